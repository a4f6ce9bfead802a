/* Quick add (tasks/_quick_add.html): previews the line as you type, from the server's
 * own reader (GET /tasks/quick/preview answers the markup the no-script "Preview"
 * shows). Adding stays the form's: Enter submits it with "Add", the default button.
 *
 * Only the preview's own answer is put in the form: a 200 (the parts) or a 400 (why the
 * line is refused) of type text/html. A redirect (the session expired: the login page)
 * or an error page is not followed or shown; the preview is cleared instead.
 *
 * The preview is not a live region (it changes at every pause): once typing has rested,
 * or on "Preview", one short sentence says what the line would add. */
import { announce } from "../announce.js";

const form = document.getElementById("quick-add-form");
const input = document.getElementById("quick-add");
const preview = document.getElementById("quick-preview");
const WAIT_MS = 200; // a pause this long fetches the preview
const SAY_MS = 1200; // a pause this long says it

function part(name) {
  return preview.querySelector(`[data-part="${name}"]`)?.textContent.trim() ?? "";
}

/** One sentence for the preview shown: "Would add “Pay rent”, due …, #home, high priority". */
function summary() {
  const errors = [...preview.querySelectorAll(".field-errors li")].map((li) => li.textContent.trim());
  if (errors.length) {
    return errors.join(" ");
  }
  if (!preview.querySelector("[data-quick-preview]")) {
    return "";
  }
  const title = preview.querySelector('[data-part="title"] em') ? "" : part("title");
  const parts = [title ? `Would add “${title}”` : "Would add a task with no title yet"];
  if (part("due")) {
    parts.push(`due ${part("due")}`);
  }
  if (part("categories")) {
    parts.push(part("categories").split(", ").map((name) => "#" + name).join(" "));
  }
  if (part("priority")) {
    parts.push(`${part("priority").toLowerCase()} priority`);
  }
  return parts.join(", ");
}

if (form && input && preview) {
  let timer = 0;
  let sayTimer = 0;
  let pending = null;

  const show = async () => {
    pending?.abort();
    const text = input.value;
    if (!text.trim()) {
      preview.replaceChildren();
      return false;
    }
    pending = new AbortController();
    const url = `${form.dataset.previewUrl}?${new URLSearchParams({ text })}`;
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        redirect: "manual",
        signal: pending.signal,
      });
      const type = response.headers.get("Content-Type") || "";
      const ours = (response.status === 200 || response.status === 400) && type.startsWith("text/html");
      const markup = ours ? await response.text() : "";
      if (input.value !== text) {
        return false;
      }
      if (ours) {
        preview.innerHTML = markup; // the server's own template, escaped there
      } else {
        preview.replaceChildren();
      }
      return ours;
    } catch (error) {
      if (error.name !== "AbortError") {
        preview.replaceChildren();
      }
      return false;
    }
  };

  const sayIt = () => {
    const text = summary();
    if (text) {
      announce(text);
    }
  };

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    window.clearTimeout(sayTimer);
    timer = window.setTimeout(show, WAIT_MS);
    sayTimer = window.setTimeout(sayIt, SAY_MS);
  });

  // "Preview" shows and says it at once, without leaving the page.
  form.querySelector('button[value="preview"]')?.addEventListener("click", async (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    window.clearTimeout(sayTimer);
    if (await show()) {
      sayIt();
    }
  });
}
