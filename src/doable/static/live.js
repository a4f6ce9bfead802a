/* Live updates for the task pages: a small Socket.IO client (Engine.IO v4 / Socket.IO v5
 * over a plain WebSocket; no library, no build step). The session cookie authenticates
 * the socket. Without JavaScript, or when the socket cannot connect, the pages work as
 * they are; a reload always shows the truth.
 *
 * Data from events is only ever put in the page with textContent and DOM calls.
 */
(function () {
  "use strict";

  var list = document.getElementById("task-list");
  var detail = document.querySelector(".task-detail[data-task-id]");
  var notice = document.getElementById("live-notice");
  if (!list && !detail) {
    return;
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var root = document.documentElement;
  var socket = null;
  var watchdog = null;
  var retryDelay = 1000;
  var lastEventId = null;
  var refused = false;
  var waiting = false;

  // --- formatting, as the templates do it -------------------------------------------

  function label(value) {
    var text = String(value).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function day(iso) { // "2026-01-05" -> "5 Jan 2026"
    var parts = iso.split("-");
    return Number(parts[2]) + " " + MONTHS[Number(parts[1]) - 1] + " " + parts[0];
  }

  function moment(iso) { // "2026-01-05T10:30:00Z" -> "5 Jan 2026, 10:30 UTC"
    return day(iso.slice(0, 10)) + ", " + iso.slice(11, 16) + " UTC";
  }

  function todayUtc() {
    return new Date().toISOString().slice(0, 10);
  }

  function isOverdue(task) {
    return Boolean(task.due_date) && task.due_date < todayUtc() && task.status !== "completed";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // --- pieces of a task, the same markup as macros.html -----------------------------

  function statusBadge(task) {
    var badge = element("span", "badge status-" + task.status, label(task.status));
    badge.setAttribute("data-field", "status");
    return badge;
  }

  function priorityBadge(task) {
    var badge = element("span", "badge priority-" + task.priority, label(task.priority) + " priority");
    badge.setAttribute("data-field", "priority");
    return badge;
  }

  function due(task) {
    if (!task.due_date) {
      return null;
    }
    var late = isOverdue(task);
    var span = element("span", late ? "due is-overdue" : "due");
    span.setAttribute("data-field", "due");
    if (late) {
      span.appendChild(element("strong", "overdue-flag", "Overdue"));
      span.appendChild(document.createTextNode(" "));
    }
    span.appendChild(document.createTextNode("Due "));
    var time = element("time", "", day(task.due_date));
    time.setAttribute("datetime", task.due_date);
    span.appendChild(time);
    return span;
  }

  function sharedBy(task) {
    if (task.access === "owner") {
      return null;
    }
    var span = element("span", "shared-by", "Shared by " + task.owner.username + " · can " + task.access);
    span.setAttribute("data-field", "access");
    return span;
  }

  function meta(task) {
    var box = element("div", "task-meta");
    [statusBadge(task), priorityBadge(task), due(task), sharedBy(task)].forEach(function (node) {
      if (node) {
        box.appendChild(node);
      }
    });
    return box;
  }

  function tags(task) {
    var ul = element("ul", "tags");
    ul.setAttribute("data-field", "categories");
    ul.hidden = task.categories.length === 0;
    task.categories.forEach(function (name) {
      var li = element("li");
      var link = element("a", "", name);
      link.href = "/tasks?category=" + encodeURIComponent(name);
      li.appendChild(link);
      ul.appendChild(li);
    });
    return ul;
  }

  function rowClass(task) {
    return "task-row" + (isOverdue(task) ? " is-overdue" : "") +
      (task.status === "completed" ? " is-done" : "");
  }

  function renderRow(task) {
    var li = element("li", rowClass(task));
    li.setAttribute("data-task-id", String(task.id));
    var title = element("a", "task-title", task.title);
    title.href = "/tasks/" + task.id;
    title.setAttribute("data-field", "title");
    li.appendChild(title);
    li.appendChild(meta(task));
    li.appendChild(tags(task));
    return li;
  }

  // --- notices ------------------------------------------------------------------------

  function tell(text) {
    if (!notice) {
      return;
    }
    notice.querySelector(".notice-text").textContent = text;
    notice.hidden = false;
  }

  // --- the task list ------------------------------------------------------------------

  function row(id) {
    return list.querySelector('[data-task-id="' + Number(id) + '"]');
  }

  function defaultView() {
    // Unfiltered, newest first, first page: a new task's place is known (the top).
    return list.getAttribute("data-filtered") === "false" && list.getAttribute("data-page") === "1";
  }

  function setTotal(delta) {
    var summary = document.getElementById("task-summary");
    var total = Number(list.getAttribute("data-total")) + delta;
    list.setAttribute("data-total", String(total));
    if (summary) {
      summary.textContent = total ? total + (total === 1 ? " task" : " tasks") : "";
    }
    var empty = document.getElementById("task-empty");
    if (empty && total > 0) {
      empty.hidden = true;
    }
  }

  function listAdded(task) {
    if (row(task.id)) {
      return listUpdated(task);
    }
    if (!defaultView() || task.access !== "owner") {
      tell("New tasks are available.");
      return;
    }
    var fresh = renderRow(task);
    fresh.classList.add("is-new");
    list.insertBefore(fresh, list.firstChild);
    var perPage = Number(list.getAttribute("data-per-page"));
    while (list.children.length > perPage) {
      list.removeChild(list.lastChild); // it moved to the next page
    }
    setTotal(1);
  }

  function listUpdated(task) {
    var current = row(task.id);
    if (current) {
      var replacement = renderRow(task);
      list.replaceChild(replacement, current);
    }
    if (list.getAttribute("data-filtered") === "true") {
      tell("Tasks changed; refresh to apply your filters and sorting again.");
    }
  }

  function listRemoved(data) {
    var current = row(data.id);
    if (current) {
      list.removeChild(current);
      setTotal(-1);
      if (!list.children.length) {
        tell("This page has no tasks left.");
      }
    }
  }

  function listUnshared(data) {
    if (!data.user) { // a sharee who left is named to the owner, who keeps the task
      listRemoved(data);
    }
  }

  // --- one task -----------------------------------------------------------------------

  function field(name) {
    return detail.querySelector('[data-field="' + name + '"]');
  }

  function replaceField(name, node) {
    var old = field(name);
    if (old && node) {
      old.parentNode.replaceChild(node, old);
    } else if (old) {
      old.parentNode.removeChild(old);
    } else if (node) {
      detail.querySelector(".task-meta").appendChild(node);
    }
  }

  function detailUpdated(task) {
    var title = field("title");
    title.textContent = task.title;
    document.title = task.title + " · Doable";
    replaceField("status", statusBadge(task));
    replaceField("priority", priorityBadge(task));
    replaceField("due", due(task));
    replaceField("categories", tags(task));
    var description = field("description");
    description.textContent = task.description;
    description.hidden = !task.description;
    field("updated_at").textContent = moment(task.updated_at);
    if (document.getElementById("edit") || task.access !== detail.getAttribute("data-access")) {
      tell("This task was just changed elsewhere; reload the page before editing it.");
    }
  }

  function detailGone(text) {
    detail.classList.add("is-gone");
    tell(text);
  }

  // --- events -------------------------------------------------------------------------

  var onList = {
    task_created: listAdded,
    task_shared: listAdded,
    task_updated: listUpdated,
    task_deleted: listRemoved,
    task_unshared: listUnshared
  };

  function onDetail(name, data) {
    if (Number(data.id) !== Number(detail.getAttribute("data-task-id"))) {
      return;
    }
    if (name === "task_updated" || name === "task_shared") {
      detailUpdated(data);
    } else if (name === "task_deleted") {
      detailGone("This task has been deleted.");
    } else if (name === "task_unshared" && data.user) {
      tell(data.user.username + " left this task; it is no longer shared with them.");
    } else if (name === "task_unshared") {
      detailGone("This task is no longer shared with you.");
    }
  }

  function dispatch(name, data) {
    if (!data || typeof data !== "object") {
      return;
    }
    if (typeof data.event_id === "number") {
      if (lastEventId !== null && data.event_id > lastEventId + 1) {
        tell("Some changes may have been missed while the connection was down.");
      }
      lastEventId = data.event_id;
    }
    if (list && Object.prototype.hasOwnProperty.call(onList, name)) {
      onList[name](data);
    } else if (detail) {
      onDetail(name, data);
    }
  }

  // --- Engine.IO v4 / Socket.IO v5 over a WebSocket ------------------------------------

  function setState(state) {
    root.setAttribute("data-live", state);
  }

  function armWatchdog(limit) {
    clearTimeout(watchdog);
    watchdog = setTimeout(function () {
      if (socket) {
        socket.close(); // no ping for too long: the connection is dead
      }
    }, limit);
  }

  function onPacket(packet, limits) {
    var kind = packet.charAt(0);
    if (kind === "0") { // open: {"sid", "pingInterval", "pingTimeout", ...}
      var open = JSON.parse(packet.slice(1));
      limits.silence = open.pingInterval + open.pingTimeout;
      armWatchdog(limits.silence);
      socket.send("40"); // connect to the default namespace; the cookie says who we are
    } else if (kind === "2") { // ping
      socket.send("3");
      armWatchdog(limits.silence);
    } else if (kind === "1") { // close
      socket.close();
    } else if (kind === "4") {
      onMessage(packet.slice(1));
    }
  }

  function onMessage(message) {
    var kind = message.charAt(0);
    if (kind === "0") { // connected
      retryDelay = 1000;
      setState("connected");
    } else if (kind === "4") { // refused: {"message", "data": {"reason", "retry"}}
      // Retry what may pass later (Redis or the database briefly away, too many open
      // tabs) with the usual backoff; stop for good when signed out or the login ended
      // (a reload shows the login page).
      if (refusalIsRetryable(message.slice(1))) {
        waiting = true;
      } else {
        refused = true;
        setState("refused");
      }
      socket.close();
    } else if (kind === "1") { // the server ended this connection
      socket.close();
    } else if (kind === "2") {
      var start = message.indexOf("[");
      var event = JSON.parse(message.slice(start));
      dispatch(event[0], event[1]);
    }
  }

  function refusalIsRetryable(payload) {
    try {
      var data = JSON.parse(payload).data;
      return Boolean(data && data.retry === true);
    } catch (error) {
      return false;
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var limits = {silence: 60000};
    setState("connecting");
    socket = new WebSocket(scheme + location.host + "/socket.io/?EIO=4&transport=websocket");
    socket.onmessage = function (event) {
      try {
        onPacket(String(event.data), limits);
      } catch (error) {
        socket.close(); // a packet we cannot read: start again
      }
    };
    socket.onclose = function () {
      clearTimeout(watchdog);
      socket = null;
      if (refused) {
        return;
      }
      setState(waiting ? "waiting" : "disconnected"); // waiting: refused for now, retrying
      waiting = false;
      setTimeout(connect, retryDelay + Math.floor(Math.random() * 500));
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  if (window.WebSocket) {
    connect();
  }
}());
