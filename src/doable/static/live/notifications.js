/* The unread count in the navigation, and the notifications page's list, kept current
 * from the socket's `notification` events (docs/api.md, Reminders and notifications).
 *
 * The task pages already hold a socket (./page.js): it passes each `notification` event
 * on as a `doable:notification` DOM event, so this opens a socket of its own only on
 * the other pages. Without JavaScript the count is the one the page was rendered with.
 */
import { connect, websocketUrl } from "./socket.js";

const script = document.getElementById("notifications-script");
const badge = document.getElementById("unread-count");
const list = document.getElementById("notification-list");
const seen = new Set(); // ids already counted: an event may arrive twice (a catch-up)

function showCount(count) {
  badge.dataset.unread = String(count);
  badge.textContent = String(count);
  badge.setAttribute("aria-label", count + " unread");
  badge.hidden = count === 0;
}

function addToList(data) {
  if (!list || list.querySelector('[data-notification-id="' + Number(data.id) + '"]')) {
    return;
  }
  const item = document.createElement("li");
  item.className = "notification notification-unread";
  item.dataset.notificationId = String(Number(data.id));
  const title = document.createElement("p");
  title.className = "notification-title";
  const strong = document.createElement("strong");
  strong.textContent = String(data.title || "");
  title.appendChild(strong);
  item.appendChild(title);
  if (data.body) {
    const body = document.createElement("p");
    body.className = "notification-body";
    body.textContent = String(data.body);
    item.appendChild(body);
  }
  list.prepend(item);
  const empty = document.getElementById("notifications-empty");
  if (empty) {
    empty.hidden = true;
  }
}

export function onNotification(data) {
  if (!data || typeof data.id !== "number" || seen.has(data.id)) {
    return;
  }
  seen.add(data.id);
  if (badge && !data.read_at) {
    showCount(Number(badge.dataset.unread || 0) + 1);
  }
  addToList(data);
}

document.addEventListener("doable:notification", (event) => onNotification(event.detail));

if (script && !document.getElementById("live-script") && window.WebSocket) {
  connect(websocketUrl(script.dataset.socketUrl, location.href), {
    onEvent(name, data) {
      if (name === "notification") {
        onNotification(data);
      }
    },
    onState(state) {
      document.documentElement.setAttribute("data-live", state);
    },
  });
}
