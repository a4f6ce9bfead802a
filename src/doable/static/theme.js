/* The header's theme switch (base.html, #theme-switch): without this script it is a form
 * whose "Apply" button saves the theme and comes back to the page. With it, choosing a
 * theme applies it at once (data-theme on <html>, which style.css follows) and saves it
 * with the same form in the background; the button is not needed. Only a saved theme is
 * announced as such; otherwise the choice goes back and the person is told why. */
import { announce } from "./announce.js";

const form = document.getElementById("theme-switch");
const choice = document.getElementById("theme-choice");

/** Why the theme was not saved, from the answer to the script's request. */
function refusal(response) {
  if (response.type === "opaqueredirect" || response.status === 401) {
    return "You are signed out: the theme was not saved. Log in again to keep it.";
  }
  return "The theme was not saved; reload the page and try again."; // e.g. an expired form
}

async function save() {
  const root = document.documentElement;
  const before = root.dataset.theme;
  root.dataset.theme = choice.value;
  let refused = "The theme could not be saved; check the connection and try again.";
  try {
    // Asked for JSON, the server answers 204 once saved; a redirect is not followed: it
    // is the login page's (the session has expired), never a "saved".
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      redirect: "manual",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 204) {
      announce(choice.options[choice.selectedIndex].text + " theme");
      return;
    }
    refused = refusal(response);
  } catch (error) {
    // the network: said below
  }
  root.dataset.theme = before;
  choice.value = before;
  announce(refused);
}

if (form && choice) {
  form.querySelector("button[type=submit]").hidden = true;
  choice.addEventListener("change", save);
}
