/* Quick add (tasks/_quick_add.html): previews the line as you type, from the server's
 * own reader (GET /tasks/quick/preview answers the markup the no-script "Preview"
 * shows). Adding stays the form's: Enter submits it with "Add", the default button. */
const form = document.getElementById("quick-add-form");
const input = document.getElementById("quick-add");
const preview = document.getElementById("quick-preview");
const WAIT_MS = 200;

if (form && input && preview) {
  let timer = 0;
  let pending = null;

  const show = async () => {
    pending?.abort();
    const text = input.value;
    if (!text.trim()) {
      preview.replaceChildren();
      return;
    }
    pending = new AbortController();
    const url = `${form.dataset.previewUrl}?${new URLSearchParams({ text })}`;
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        signal: pending.signal,
      });
      const markup = await response.text();
      if (input.value === text) {
        // the server's own template, escaped there
        preview.innerHTML = markup;
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        preview.replaceChildren();
      }
    }
  };

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(show, WAIT_MS);
  });
}
