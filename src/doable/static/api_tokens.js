// The API tokens page, and the calendar feed's (its URL shown once). Without this
// script the pages work the same, but for the two conveniences it adds:
// - Copy buttons: <button data-copy="ID" hidden> copies the value of the field with that
//   id (without the script the buttons stay hidden; the field is read-only text to
//   select and copy by hand).
// - A page that shows a new token (the answer to the form's POST) is turned into a
//   plain visit of the page, so reloading it lists the tokens rather than sending the
//   form again and creating another.
"use strict";

for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      field.select(); // the browser refused: select it for Ctrl+C
      button.textContent = "Press Ctrl+C";
    }
  });
}

if (document.querySelector("[data-shown-once]")) {
  history.replaceState(null, "", window.location.href);
}
