/* Done in one click, without a reload: a list row's done form is sent by fetch asking
 * for JSON (tasks/done_views.py), the task's row is fetched again (the markup's one
 * source, templates/macros.html), and a confirmation offers Undo, which is sent the same
 * way. Whatever goes wrong, the form is sent as a form. The live updates (live/page.js)
 * know this tab's own changes (live/own.js) and leave them be.
 *
 * On a task's own page the form is left to do its work (the page comes back with Undo):
 * its edit form, occurrences and "Done (next: …)" button all hold the task's state (the
 * edit form its version), which only the page as a whole renders right.
 *
 * The confirmation is fixed to the bottom of the window, so it must not cover where the
 * keyboard is (WCAG 2.4.11): it goes away when the focus or a click moves away from the
 * task it is about, or on Escape. Tab from that task's done button goes to it. */
import { announce } from "../announce.js";
import { ownChange } from "../live/own.js";

const script = document.getElementById("live-script");
let toast = null;
let about = null; // the task id the confirmation is about
const busy = new Set(); // the task ids whose change is on its way

function rowOf(taskId) {
  return document.querySelector('.task-row[data-task-id="' + Number(taskId) + '"]');
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    body,
    redirect: "manual",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  const type = response.headers.get("Content-Type") || "";
  if (!type.startsWith("application/json") || (!response.ok && response.status !== 409)) {
    throw new Error("answered " + response.status);
  }
  return { status: response.status, data: await response.json() };
}

/** The task's row, fetched again and put in place. */
async function refresh(taskId) {
  const url = script.dataset.rowUrl.replace("{task_id}", String(Number(taskId)));
  const response = await fetch(url, { redirect: "manual" });
  if (!response.ok) {
    return;
  }
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  const fresh = template.content.firstElementChild;
  const current = rowOf(taskId);
  if (fresh && current) {
    const focused = current.contains(document.activeElement);
    current.replaceWith(fresh);
    const toggle = fresh.querySelector(".done-toggle");
    if (toggle && focused) {
      toggle.focus(); // keep the keyboard where it was
    }
  }
}

function dismiss() {
  if (toast) {
    toast.hidden = true;
  }
  about = null;
}

function confirm(taskId, text, onUndo) {
  about = taskId;
  if (!toast) {
    toast = document.createElement("div");
    toast.id = "done-toast";
    toast.className = "toast";
    document.body.appendChild(toast);
  }
  toast.replaceChildren();
  const said = document.createElement("span");
  said.textContent = text;
  toast.appendChild(said);
  if (onUndo) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-quiet undo-button";
    button.textContent = "Undo";
    button.addEventListener("click", () => {
      button.disabled = true;
      onUndo();
    });
    toast.appendChild(button);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "button-link toast-dismiss";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => {
    const toggle = rowOf(about)?.querySelector(".done-toggle");
    dismiss();
    toggle?.focus();
  });
  toast.appendChild(close);
  toast.hidden = false;
  announce(onUndo ? text + " Undo is available." : text);
}

async function change(taskId, url, body) {
  const settle = ownChange(taskId);
  let stamp = null;
  try {
    const { status, data } = await post(url, body);
    if (status === 200 && data.updated_at) {
      stamp = { updated_at: data.updated_at, version: data.version };
    }
    if (data.updated_at) {
      // Done is done: a fragment that fails to come leaves the page to the live updates.
      await refresh(taskId).catch(() => undefined);
    }
    return data;
  } finally {
    settle(stamp);
  }
}

async function tick(form) {
  const taskId = form.closest(".task-row").getAttribute("data-task-id");
  const token = form.querySelector('[name="csrf_token"]').value;
  const next = form.querySelector('[name="next"]').value;
  const data = await change(taskId, form.action, new FormData(form));
  if (!data.undo) {
    confirm(taskId, data.message, null);
    return;
  }
  const undoUrl = form.action.replace(/\/done$/, "/undo");
  confirm(taskId, data.message, async () => {
    const body = new FormData();
    body.set("csrf_token", token);
    body.set("next", next);
    for (const [name, value] of Object.entries(data.undo)) {
      body.set(name, value);
    }
    try {
      const undone = await change(taskId, undoUrl, body);
      confirm(taskId, undone.message, null);
    } catch (error) {
      confirm(taskId, "Undo could not be sent; reload the page and try again.", null);
    }
    // The Undo button is gone: the keyboard goes back to the task's done button.
    rowOf(taskId)?.querySelector(".done-toggle")?.focus();
  });
}

/** Whether `node` is the confirmation, or the task it is about. */
function near(node) {
  return node instanceof Node && (toast.contains(node) || Boolean(rowOf(about)?.contains(node)));
}

function onKey(event) {
  if (!toast || toast.hidden) {
    return;
  }
  const buttons = [...toast.querySelectorAll("button:not(:disabled)")];
  const focused = document.activeElement;
  if (event.key === "Escape" && near(focused)) {
    dismiss();
  } else if (event.key === "Tab" && !event.shiftKey && focused?.matches(".done-toggle") && near(focused)) {
    event.preventDefault(); // from the task's done button, on to its confirmation
    buttons[0]?.focus();
  } else if (event.key === "Tab" && event.shiftKey && focused === buttons[0]) {
    event.preventDefault(); // and back
    rowOf(about)?.querySelector(".done-toggle")?.focus();
  }
}

if (script) {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (
      !(form instanceof HTMLFormElement) ||
      !form.classList.contains("done-form") ||
      !form.closest(".task-row")
    ) {
      return; // not a row's: sent as a form
    }
    event.preventDefault();
    // One change at a time per task; the button is not disabled, which would drop the focus.
    const taskId = form.closest(".task-row").getAttribute("data-task-id");
    if (busy.has(taskId)) {
      return;
    }
    busy.add(taskId);
    tick(form).catch(() => form.submit()).finally(() => { busy.delete(taskId); });
  });
  document.addEventListener("focusin", (event) => {
    if (toast && !toast.hidden && !near(event.target)) {
      dismiss(); // the keyboard went elsewhere: the confirmation must not cover it
    }
  });
  document.addEventListener("pointerdown", (event) => {
    if (toast && !toast.hidden && !near(event.target)) {
      dismiss();
    }
  });
  document.addEventListener("keydown", onKey);
}
