/* Tells screen readers what just changed: the text goes into base.html's polite live
 * region (#announcer). Cleared first, so the same words said twice are read twice. */
const region = document.getElementById("announcer");

export function announce(text) {
  if (!region) {
    return;
  }
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}
