/* Done in one click, without a reload: the row's (or the task page's) done form is sent
 * by fetch asking for JSON (tasks/done_views.py), the task's fragment is fetched again
 * (the markup's one source, templates/macros.html), and a confirmation offers Undo,
 * which is sent the same way. Whatever goes wrong, the form is sent as a form. The live
 * updates (live/page.js) know this tab's own changes (live/own.js) and leave them be. */
import { announce } from "../announce.js";
import { ownChange } from "../live/own.js";

const script = document.getElementById("live-script");
let toast = null;

function holderOf(form) {
  return form.closest(".task-row") || form.closest(".task-detail");
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

/** The task's fragment of the kind shown (its row, or its summary), put in place. */
async function refresh(taskId, kind) {
  const url = script.dataset[kind + "Url"].replace("{task_id}", String(Number(taskId)));
  const response = await fetch(url, { redirect: "manual" });
  if (!response.ok) {
    return;
  }
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  const fresh = template.content.firstElementChild;
  const selector = kind === "row" ? ".task-row" : ".task-detail";
  const current = document.querySelector(selector + '[data-task-id="' + Number(taskId) + '"]');
  if (fresh && current) {
    const focused = current.contains(document.activeElement);
    current.replaceWith(fresh);
    const toggle = fresh.querySelector(".done-toggle");
    if (toggle && focused) {
      toggle.focus(); // keep the keyboard where it was
    }
  }
}

function confirm(text, onUndo) {
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
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "button-link toast-dismiss";
  dismiss.setAttribute("aria-label", "Dismiss");
  dismiss.textContent = "×";
  dismiss.addEventListener("click", () => { toast.hidden = true; });
  toast.appendChild(dismiss);
  toast.hidden = false;
  announce(onUndo ? text + " Undo is available." : text);
}

async function change(taskId, kind, url, body) {
  const settle = ownChange(taskId);
  let stamp = null;
  try {
    const { status, data } = await post(url, body);
    if (status === 200 && data.updated_at) {
      stamp = { updated_at: data.updated_at, version: data.version };
    }
    if (data.updated_at) {
      // Done is done: a fragment that fails to come leaves the page to the live updates.
      await refresh(taskId, kind).catch(() => undefined);
    }
    return data;
  } finally {
    settle(stamp);
  }
}

async function tick(form) {
  const holder = holderOf(form);
  const kind = holder && holder.classList.contains("task-row") ? "row" : "summary";
  const taskId = holder.getAttribute("data-task-id");
  const token = form.querySelector('[name="csrf_token"]').value;
  const next = form.querySelector('[name="next"]').value;
  const data = await change(taskId, kind, form.action, new FormData(form));
  if (!data.undo) {
    confirm(data.message, null);
    return;
  }
  const undoUrl = form.action.replace(/\/done$/, "/undo");
  confirm(data.message, async () => {
    const body = new FormData();
    body.set("csrf_token", token);
    body.set("next", next);
    for (const [name, value] of Object.entries(data.undo)) {
      body.set(name, value);
    }
    try {
      const undone = await change(taskId, kind, undoUrl, body);
      confirm(undone.message, null);
    } catch (error) {
      confirm("Undo could not be sent; reload the page and try again.", null);
    }
  });
}

if (script) {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("done-form")) {
      return;
    }
    event.preventDefault();
    const button = form.querySelector(".done-toggle");
    if (button.disabled) {
      return;
    }
    button.disabled = true;
    tick(form).catch(() => form.submit()).finally(() => { button.disabled = false; });
  });
}
