/* The header's theme switch (base.html, #theme-switch): without this script it is a form
 * whose "Apply" button saves the theme and comes back to the page. With it, choosing a
 * theme applies it at once (data-theme on <html>, which style.css follows) and saves it
 * with the same form in the background; the button is not needed. */
import { announce } from "./announce.js";

const form = document.getElementById("theme-switch");
const choice = document.getElementById("theme-choice");

async function save() {
  const root = document.documentElement;
  const before = root.dataset.theme;
  root.dataset.theme = choice.value;
  try {
    // The answer is a redirect back to this page: not followed, it only says "saved".
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      redirect: "manual",
      credentials: "same-origin",
    });
    if (response.type !== "opaqueredirect") {
      throw new Error("the theme was refused: " + response.status);
    }
    announce(choice.options[choice.selectedIndex].text + " theme");
  } catch (error) {
    root.dataset.theme = before;
    choice.value = before;
    announce("The theme could not be saved; try again.");
  }
}

if (form && choice) {
  form.querySelector("button[type=submit]").hidden = true;
  choice.addEventListener("change", save);
}
