/* Live updates for the task pages: events from the socket (./socket.js) become changes
 * to the page. A changed task is fetched from the server as the same fragment the page
 * was rendered with (its list row, or its summary), so the markup has one source:
 * templates/macros.html. Without JavaScript, or when the socket cannot connect, the
 * pages work as they are; a reload always shows the truth.
 *
 * Nothing is missed: every event carries its `seq` in the user's change feed, and the
 * page knows the position it shows (data-seq, rendered with it). Whenever the socket
 * (re)connects, and whenever an event's seq jumps past the next one, the page reads
 * what it has not applied from the feed (data-events-url: GET /api/events for the
 * session cookie) and applies exactly that, in order; only when the feed no longer
 * holds it (410: pruned, or a restored database) does it reload.
 *
 * The event data itself is only read (ids, access), never put in the page.
 */
import { announce } from "../announce.js";
import { connect, websocketUrl } from "./socket.js";
import { isOwn } from "./own.js";

const script = document.getElementById("live-script");
const list = document.getElementById("task-list");
const notice = document.getElementById("live-notice");
const root = document.documentElement;
let last = script ? Number(script.dataset.seq) : 0; // the feed position the page shows
let queue = Promise.resolve(); // events are applied one at a time, in order

// --- the server's fragments ------------------------------------------------------------

function fragmentUrl(kind, taskId) {
  return script.dataset[kind + "Url"].replace("{task_id}", String(Number(taskId)));
}

/** The task's fragment as one element, or null when the task is no longer visible. */
async function fetchFragment(kind, taskId) {
  // No redirects: a signed-out answer is the login page, never a fragment.
  const response = await fetch(fragmentUrl(kind, taskId), { redirect: "manual" });
  if (response.status === 404) {
    return null; // gone since the event: a later event says so
  }
  if (!response.ok) {
    throw new Error("fragment answered " + response.status);
  }
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  return template.content.firstElementChild;
}

// --- notices ---------------------------------------------------------------------------

function tell(text) {
  if (!notice) {
    return;
  }
  notice.querySelector(".notice-text").textContent = text;
  notice.hidden = false;
}

// --- what is said to screen readers, and the views' counts ----------------------------

const SAY_AFTER = 400; // changes arriving within this many ms are said together
let said = [];
let saying = null;

/** Say that a task changed (another person or tab did it): bursts are coalesced. */
function say(text) {
  said.push(text);
  if (saying === null) {
    saying = setTimeout(() => {
      announce(said.length <= 3 ? said.join(" ") : said.length + " tasks changed.");
      said = [];
      saying = null;
    }, SAY_AFTER);
  }
}

function titleOf(node) {
  const title = node && node.querySelector('[data-field="title"]');
  return title ? title.textContent : "A task";
}

const nav = document.getElementById("views-nav");
let counting = null;

/** Read the views' counts again (GET /tasks/counts), once for a burst of changes. */
function recount() {
  if (!nav || counting !== null) {
    return;
  }
  counting = setTimeout(async () => {
    counting = null;
    const response = await fetch(nav.dataset.countsUrl, {
      redirect: "manual", headers: { Accept: "application/json" },
    });
    if (response.ok) {
      const counts = await response.json();
      for (const shown of nav.querySelectorAll("[data-count]")) {
        shown.textContent = String(Number(counts[shown.getAttribute("data-count")]));
      }
    }
  }, SAY_AFTER);
}

// --- the task list ---------------------------------------------------------------------

function row(id) {
  return list.querySelector('[data-task-id="' + Number(id) + '"]');
}

function defaultView() {
  // Unfiltered, newest first, first page: a new task's place is known (the top).
  return list.getAttribute("data-filtered") === "false" && list.getAttribute("data-page") === "1";
}

function setTotal(delta) {
  const summary = document.getElementById("task-summary");
  const total = Number(list.getAttribute("data-total")) + delta;
  list.setAttribute("data-total", String(total));
  if (summary) {
    summary.textContent = total ? total + (total === 1 ? " task" : " tasks") : "";
  }
  const empty = document.getElementById("task-empty");
  if (empty && total > 0) {
    empty.hidden = true;
  }
}

async function listAdded(data) {
  if (row(data.id)) {
    return listUpdated(data);
  }
  if (!defaultView() || data.access !== "owner") {
    tell("New tasks are available.");
    return;
  }
  const fresh = await fetchFragment("row", data.id);
  if (!fresh || row(data.id)) {
    return;
  }
  fresh.classList.add("is-new");
  list.insertBefore(fresh, list.firstChild);
  say("“" + titleOf(fresh) + "” was added.");
  const perPage = Number(list.getAttribute("data-per-page"));
  const rows = list.querySelectorAll(":scope > .task-row");
  for (const extra of [...rows].slice(perPage)) {
    list.removeChild(extra); // it moved to the next page
  }
  setTotal(1);
}

async function listUpdated(data) {
  if (row(data.id)) {
    const fresh = await fetchFragment("row", data.id);
    const current = row(data.id);
    if (fresh && current) {
      list.replaceChild(fresh, current);
      say("“" + titleOf(fresh) + "” was updated.");
    }
  }
  if (list.getAttribute("data-filtered") === "true") {
    tell("Tasks changed; refresh to apply your filters and sorting again.");
  }
}

/** Removes a row; in a list grouped by day (Upcoming), a day's heading goes with its
 * last row. */
function listRemoved(data) {
  const current = row(data.id);
  if (current) {
    say("“" + titleOf(current) + "” was removed.");
    const before = current.previousElementSibling;
    const after = current.nextElementSibling;
    list.removeChild(current);
    if (before?.classList.contains("day-heading") && (!after || after.classList.contains("day-heading"))) {
      list.removeChild(before);
    }
    setTotal(-1);
    if (!list.querySelector(".task-row")) {
      tell("This page has no tasks left.");
    }
  }
}

function listUnshared(data) {
  if (!data.user) { // a sharee who left is named to the owner, who keeps the task
    listRemoved(data);
  }
}

function listShared(data) {
  // The owner is told who they shared it with: their task, already theirs to list.
  return data.user ? listUpdated(data) : listAdded(data);
}

const onList = {
  task_created: listAdded,
  task_shared: listShared,
  task_updated: listUpdated,
  task_deleted: listRemoved,
  task_unshared: listUnshared,
};

// --- one task --------------------------------------------------------------------------

function summary() {
  return document.querySelector(".task-detail[data-task-id]");
}

const shown = summary();
const accessShown = shown && shown.getAttribute("data-access"); // what the forms allow

async function detailUpdated(data) {
  const fresh = await fetchFragment("summary", data.id);
  const current = summary();
  if (!fresh || current.classList.contains("is-gone")) {
    return;
  }
  const title = (node) => node.querySelector('[data-field="title"]').textContent;
  if (document.title.startsWith(title(current))) { // "<title> · Doable"
    document.title = title(fresh) + document.title.slice(title(current).length);
  }
  current.replaceWith(fresh);
  say("“" + title(fresh) + "” was updated.");
  if (document.getElementById("edit") || fresh.getAttribute("data-access") !== accessShown) {
    tell("This task was just changed elsewhere; reload the page before editing it.");
  }
}

function detailGone(text) {
  summary().classList.add("is-gone");
  tell(text);
}

function onDetail(name, data) {
  if (Number(data.id) !== Number(shown.getAttribute("data-task-id"))) {
    return undefined;
  }
  if (name === "task_updated" || name === "task_shared") {
    return detailUpdated(data);
  } else if (name === "task_deleted") {
    detailGone("This task has been deleted.");
  } else if (name === "task_unshared" && data.user) {
    tell("This task is no longer shared with " + data.user.username + ".");
  } else if (name === "task_unshared") {
    detailGone("This task is no longer shared with you.");
  }
  return undefined;
}

// --- events ----------------------------------------------------------------------------

async function apply(name, data) {
  if (name.startsWith("task_")) {
    recount();
  }
  if (name === "task_updated" && (await isOwn(data))) {
    return undefined; // this tab's own change (../tasks/done.js): shown and said already
  }
  if (list && Object.prototype.hasOwnProperty.call(onList, name)) {
    return onList[name](data);
  }
  return shown ? onDetail(name, data) : undefined;
}

/** A feed event (GET /api/events) as the socket would have sent it: its name and the
 * data the handlers read (the id, and what tells owner from sharee). */
function fromFeed(event) {
  const id = event.task_id === null ? event.entity.id : event.task_id;
  const data = { id, seq: event.seq, version: event.version };
  const me = Number(script.dataset.userId);
  const shared = event.changes.shared_with || [null, null];
  if (event.action === "created") {
    data.access = "owner"; // only the owner hears of a new task
  } else if (event.action === "shared" && event.task) {
    data.access = event.task.access; // the new sharee is shown the task
  } else if (event.action === "shared") {
    data.user = shared[1];
  } else if (event.action === "unshared" && shared[0] && shared[0].id !== me) {
    data.user = shared[0];
  }
  return [FEED_EVENTS[event.action] || event.action, data];
}

const FEED_EVENTS = {
  created: "task_created",
  updated: "task_updated",
  deleted: "task_deleted",
  shared: "task_shared",
  share_updated: "task_updated",
  unshared: "task_unshared",
};

class Reloading extends Error {}
let reloading = false;

/** Apply, in order, every event of the feed after the position the page shows. */
async function catchUp() {
  while (!reloading) {
    const url = new URL(script.dataset.eventsUrl, location.href);
    url.searchParams.set("after", String(last));
    url.searchParams.set("limit", "500");
    const response = await fetch(url, { redirect: "manual", headers: { Accept: "application/json" } });
    if (response.status === 410) { // the feed no longer holds what we missed
      reloading = true;
      location.reload();
      throw new Reloading();
    }
    if (!response.ok) {
      throw new Error("the change feed answered " + response.status);
    }
    const page = await response.json();
    for (const event of page.events) {
      if (event.seq > last) {
        const [name, data] = fromFeed(event);
        await apply(name, data);
        last = event.seq;
      }
    }
    if (!page.has_more) {
      return;
    }
  }
}

async function receive(name, data) {
  if (reloading || data.seq <= last) {
    return; // applied already, read from the feed
  }
  if (data.seq > last + 1) {
    await catchUp(); // some did not arrive: the feed has them, and this one too
    if (data.seq <= last) {
      return;
    }
  }
  await apply(name, data);
  last = data.seq;
}

function enqueue(step) {
  queue = queue.then(step).catch((error) => {
    if (!(error instanceof Reloading)) {
      tell("This page could not follow a change; reload it to see the latest.");
    }
  });
}

function onEvent(name, data) {
  if (name === "notification") { // the navigation's count (./notifications.js)
    document.dispatchEvent(new CustomEvent("doable:notification", { detail: data }));
  }
  if (data && typeof data === "object" && typeof data.seq === "number") {
    enqueue(() => receive(name, data));
  }
}

function onState(state) {
  root.setAttribute("data-live", state);
  if (state === "connected") {
    enqueue(catchUp); // what happened while (or before) the socket was down
  }
}

if ((list || shown) && script && window.WebSocket) {
  connect(websocketUrl(script.dataset.socketUrl, location.href), { onEvent, onState });
}
