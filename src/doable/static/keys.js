/* Keyboard shortcuts on every page of a signed-in person (templates/_shortcuts.html lists
 * them): n new task, j/k next/previous task, x select it, d done, e open, / search,
 * ? the list, Esc close the list or leave the task.
 *
 * The "current task" is the row holding the focus, else the one that last did: j and k
 * move the focus to a row's title link (so Enter opens it, and Tab goes on from there),
 * and the row stays marked `.is-current` until Esc, even redrawn by a live update. Rows
 * are the `.task-row`s of every `.task-list` on the page, in document order (the Today
 * and Upcoming pages group them by day), read at each key, as live updates left them.
 *
 * Keys are never taken from someone typing: not in a text field, a select or editable
 * text, and not with Ctrl, Alt or Meta held (those belong to the browser). Each action
 * goes through the page's own controls (a click on the row's box, button or link), so
 * the scripts that enhance them, or the forms without them, do the rest.
 */
const script = document.getElementById("keys-script");
const dialog = document.getElementById("shortcuts");
const opener = document.getElementById("shortcuts-open");
const NOT_TYPED = new Set(["checkbox", "radio", "button", "submit", "reset", "image"]);

function typing(target) {
  if (!(target instanceof Element)) {
    return false;
  }
  if (target.isContentEditable || target.matches("textarea, select")) {
    return true;
  }
  return target.matches("input") && !NOT_TYPED.has(target.type);
}

// --- the rows --------------------------------------------------------------------------

function rows() {
  return [...document.querySelectorAll(".task-list .task-row")].filter(
    (row) => row.getClientRects().length > 0, // not hidden
  );
}

let currentId = null; // the current row's task, kept when a live update redraws the row

/** The row holding the focus, else the one last current (marked again when a live update
 * has redrawn it), else null. */
function currentRow() {
  const focused = document.activeElement?.closest(".task-list .task-row");
  if (focused) {
    return focused;
  }
  const row = rows().find((each) => each.dataset.taskId === currentId);
  mark(row ?? null);
  return row ?? null;
}

function mark(row) {
  currentId = row ? row.dataset.taskId : null;
  for (const other of document.querySelectorAll(".task-row.is-current")) {
    if (other !== row) {
      other.classList.remove("is-current");
    }
  }
  row?.classList.add("is-current");
}

/** Moves the current row by `step` (1 down, -1 up); from no row, to the first. */
function move(step) {
  const all = rows();
  if (all.length === 0) {
    return false;
  }
  const at = all.indexOf(currentRow());
  const next = at === -1 ? all[0] : all[Math.min(Math.max(at + step, 0), all.length - 1)];
  mark(next);
  next.querySelector("a.task-title")?.focus({ preventScroll: true });
  next.scrollIntoView({ block: "nearest" });
  return true;
}

function leave() {
  const row = currentRow();
  if (!row) {
    return false;
  }
  mark(null);
  if (row.contains(document.activeElement)) {
    document.activeElement.blur();
  }
  return true;
}

/** Clicks the control `selector` of the current row; false when there is none. */
function press(selector) {
  const control = currentRow()?.querySelector(selector);
  if (!control) {
    return false;
  }
  control.click();
  return true;
}

// --- the page's fields -----------------------------------------------------------------

/** The quick add field; without one, the new task page (or its first field, there). */
function newTask() {
  const quickAdd = document.getElementById("quick-add");
  if (quickAdd) {
    quickAdd.focus();
    return true;
  }
  const newPage = new URL(script.dataset.newUrl, window.location.href);
  if (newPage.pathname !== window.location.pathname) {
    window.location.assign(newPage.href);
    return true;
  }
  document.querySelector("main form :is(input:not([type=hidden]), textarea, select)")?.focus();
  return true;
}

function search() {
  const field = document.getElementById("q");
  if (!field) {
    return false;
  }
  const filters = field.closest("details");
  if (filters) {
    filters.open = true;
  }
  field.focus();
  field.select();
  return true;
}

function showList() {
  if (!dialog.open) {
    dialog.showModal();
  }
  return true;
}

// --- the keys --------------------------------------------------------------------------

const ACTIONS = new Map([
  ["n", newTask],
  ["j", () => move(1)],
  ["k", () => move(-1)],
  ["x", () => press(".select-box")], // the bulk script says what is selected
  ["d", () => press(".done-toggle")],
  ["e", () => press("a.task-title")],
  ["/", search],
  ["?", showList],
  ["Escape", leave],
]);
const REPEATABLE = new Set(["j", "k"]); // held down, they keep moving

/** A key someone is typing, or one for the browser or an open modal (this list, or
 * another: Esc closes it, the browser's own), is not a shortcut. */
function notForUs(event) {
  return (
    event.defaultPrevented ||
    event.isComposing ||
    event.ctrlKey ||
    event.metaKey ||
    event.altKey ||
    (event.repeat && !REPEATABLE.has(event.key)) ||
    document.querySelector("dialog:modal") !== null ||
    typing(event.target)
  );
}

function onKey(event) {
  const action = ACTIONS.get(event.key);
  if (action && !notForUs(event) && action()) {
    event.preventDefault(); // e.g. the "n" is not typed into the field it focused
  }
}

// --- rows redrawn by live updates -------------------------------------------------------

let dropped = null; // the control in a row that last lost the focus to nowhere

/** A live update replaced the current row: mark the new one, and if the focus was in the
 * old one (removed with it), give it to the same control in the new one. */
function redrawn() {
  restore(currentRow());
}

/** If the focus was lost with a control of a row or summary now replaced by `holder`,
 * give it to the same control there (else its title, or done button). */
function restore(holder) {
  if (!holder || !dropped || dropped.isConnected || document.activeElement !== document.body) {
    return;
  }
  const name = dropped.classList[0];
  const same = name ? holder.querySelector("." + CSS.escape(name)) : null;
  dropped = null;
  (same ?? holder.querySelector("a.task-title, .done-toggle"))?.focus({ preventScroll: true });
}

if (script && dialog) {
  document.addEventListener("keydown", onKey);
  document.addEventListener("focusin", (event) => {
    // Tabbing or clicking into a row makes it the current one; leaving it for elsewhere
    // keeps it, so j and k go on from there (Esc leaves it).
    dropped = null;
    const row = event.target.closest?.(".task-list .task-row");
    if (row) {
      mark(row);
    }
  });
  document.addEventListener("focusout", (event) => {
    // Removing the focused element moves the focus to nowhere, as a click on the page
    // does. Which of the two it was, redrawn() sees from the row, gone or not: it runs
    // (a microtask) before this task ends, and after it the loss is forgotten.
    const lost = event.target;
    if (event.relatedTarget === null && lost.closest?.(".task-row, .task-detail")) {
      dropped = lost;
      window.setTimeout(() => {
        if (dropped === lost) {
          dropped = null;
        }
      });
    }
  });
  for (const list of document.querySelectorAll(".task-list")) {
    new MutationObserver(redrawn).observe(list, { childList: true });
  }
  const detail = document.querySelector(".task-detail[data-task-id]");
  if (detail) { // a task's page: its summary, replaced by a live update
    new MutationObserver(() => restore(document.querySelector(".task-detail[data-task-id]")))
      .observe(detail.parentElement, { childList: true });
  }
  opener.addEventListener("click", showList);
  opener.closest(".shortcuts-hint").hidden = false;
}
