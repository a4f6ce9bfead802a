/* The changes this tab made itself (static/tasks/done.js), so that live/page.js, when
 * the socket or the feed brings the same change back, neither fetches what the tab
 * already shows nor announces it a second time. A change is known by its task and the
 * `updated_at` (socket events) or `version` (the feed) it left. */
const WAIT = 5000; // the longest an event waits for the tab's own answer to arrive

const pending = new Map(); // task id -> promise settled once the tab's answer is in
const mine = new Map(); // task id -> [{updated_at, version}]

/** The tab is changing the task: call the returned function with the change's stamp
 * ({updated_at, version}; null when it failed) once the answer is in. */
export function ownChange(taskId) {
  const id = Number(taskId);
  let settle;
  const promise = new Promise((resolve) => { settle = resolve; });
  pending.set(id, promise);
  return (stamp) => {
    if (stamp) {
      mine.set(id, [...(mine.get(id) || []).slice(-9), stamp]);
    }
    if (pending.get(id) === promise) {
      pending.delete(id);
    }
    settle();
  };
}

/** Whether the event's change (data: {id, updated_at} or {id, version}) is the tab's own. */
export async function isOwn(data) {
  const id = Number(data.id);
  const waiting = pending.get(id);
  if (waiting) {
    await Promise.race([waiting, new Promise((resolve) => { setTimeout(resolve, WAIT); })]);
  }
  const stamps = mine.get(id) || [];
  const at = stamps.findIndex((stamp) =>
    (data.updated_at && stamp.updated_at === data.updated_at) ||
    (typeof data.version === "number" && stamp.version === data.version));
  if (at < 0) {
    return false;
  }
  stamps.splice(at, 1);
  return true;
}
