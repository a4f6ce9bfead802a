// Copy buttons: <button data-copy="ID" hidden> copies the value of the field with that
// id. Without this script the buttons stay hidden and the field can be selected and
// copied by hand (it is read-only text).
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
