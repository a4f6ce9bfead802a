/* The bulk form (templates/tasks/_bulk.html), enhanced: shift-click ticks the range
 * between the box clicked last and this one, "Select all on this page" ticks them all
 * (and is mixed when some are), a live count of the selection is shown and announced,
 * the buttons wait until something is selected, and selected rows are marked. Without
 * this script a person ticks the boxes and presses a button: the same form. Rows
 * replaced by live updates (static/live/page.js) keep their selection. */
import { announce } from "../announce.js";

const form = document.getElementById("bulk-form");
const list = document.getElementById("task-list");
const all = document.getElementById("bulk-select-all");
const count = document.getElementById("bulk-count");
const selected = new Set(); // task ids, which outlive a row replaced by a live update
let anchor = null; // the id of the box clicked last (without shift)

function boxes() {
  return Array.from(list.querySelectorAll(".task-row .select-box"));
}

function idOf(box) {
  return box.value;
}

function show(quietly) {
  const shown = boxes();
  for (const box of shown) {
    box.checked = selected.has(idOf(box));
    box.closest(".task-row").classList.toggle("is-selected", box.checked);
  }
  const ticked = shown.filter((box) => box.checked).length;
  all.checked = ticked > 0 && ticked === shown.length;
  all.indeterminate = ticked > 0 && ticked < shown.length;
  for (const button of form.querySelectorAll("[data-bulk-button]")) {
    button.disabled = ticked === 0;
  }
  const text = ticked ? ticked + " selected" : "";
  if (count.textContent !== text) {
    count.textContent = text;
    if (!quietly) {
      announce(ticked ? text : "Nothing selected");
    }
  }
}

function forget() {
  const present = new Set(boxes().map(idOf));
  for (const id of Array.from(selected)) {
    if (!present.has(id)) {
      selected.delete(id); // gone from the page (deleted, unshared): not to be sent
    }
  }
}

function onClick(event) {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.classList.contains("select-box")) {
    return;
  }
  const shown = boxes();
  const from = shown.findIndex((other) => idOf(other) === anchor);
  const to = shown.indexOf(box);
  if (event.shiftKey && from !== -1 && to !== -1) {
    const [low, high] = from < to ? [from, to] : [to, from];
    for (const inRange of shown.slice(low, high + 1)) {
      if (box.checked) {
        selected.add(idOf(inRange));
      } else {
        selected.delete(idOf(inRange));
      }
    }
  } else if (box.checked) {
    selected.add(idOf(box));
  } else {
    selected.delete(idOf(box));
  }
  anchor = idOf(box);
  show(false);
}

function onSelectAll() {
  for (const box of boxes()) {
    if (all.checked) {
      selected.add(idOf(box));
    } else {
      selected.delete(idOf(box));
    }
  }
  show(false);
}

if (form && list && all && count) {
  for (const box of boxes()) {
    if (box.checked) {
      selected.add(idOf(box)); // ticked before the script ran, or kept by the browser
    }
  }
  all.closest(".bulk-all").hidden = false;
  list.addEventListener("click", onClick);
  // keyboard toggles (space) arrive as clicks too; "change" catches anything else
  list.addEventListener("change", (event) => {
    const box = event.target;
    if (box instanceof HTMLInputElement && box.classList.contains("select-box")) {
      if (box.checked) {
        selected.add(idOf(box));
      } else {
        selected.delete(idOf(box));
      }
      show(true);
    }
  });
  all.addEventListener("change", onSelectAll);
  new MutationObserver(() => {
    forget();
    show(true);
  }).observe(list, { childList: true });
  show(true);
}
