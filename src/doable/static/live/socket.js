/* A small Socket.IO client: Socket.IO v5 over Engine.IO v4 on a plain WebSocket (no
 * library, no build step). It knows the protocol and nothing of Doable's pages: it
 * connects, answers pings, reconnects with backoff, and hands each event to its caller.
 *
 * States reported through onState: "connecting", "connected", "disconnected" (retrying),
 * "waiting" (refused for now, retrying) and "refused" (for good: it stops).
 */

const FIRST_RETRY = 1000;
const LAST_RETRY = 30000;

/** The WebSocket URL of a Socket.IO endpoint given as an http(s) URL, e.g. "/socket.io/". */
export function websocketUrl(endpoint, base) {
  const url = new URL(endpoint, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "?EIO=4&transport=websocket";
  return url.href;
}

/**
 * Connect to ``url`` (a ws(s) URL, see websocketUrl) and keep connected.
 * options: onEvent(name, data), onState(state), auth (sent with the connect packet;
 * none: the cookie says who we are), WebSocket (the class; the global one by default).
 * Returns {close()}.
 */
export function connect(url, options) {
  const WebSocketClass = options.WebSocket || globalThis.WebSocket;
  const onState = options.onState || function () {};
  let socket = null;
  let watchdog = null;
  let retry = null;
  let retryDelay = FIRST_RETRY;
  let silence = 60000;
  let waiting = false;
  let stopped = false;

  function armWatchdog() {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => socket && socket.close(), silence); // no ping: it is dead
  }

  function onPacket(packet) {
    const kind = packet.charAt(0);
    if (kind === "0") { // open: {"sid", "pingInterval", "pingTimeout", ...}
      const open = JSON.parse(packet.slice(1));
      silence = open.pingInterval + open.pingTimeout;
      armWatchdog();
      socket.send("40" + (options.auth ? JSON.stringify(options.auth) : ""));
    } else if (kind === "2") { // ping
      socket.send("3");
      armWatchdog();
    } else if (kind === "1") { // close
      socket.close();
    } else if (kind === "4") {
      onMessage(packet.slice(1));
    }
  }

  function onMessage(message) {
    const kind = message.charAt(0);
    if (kind === "0") { // connected
      retryDelay = FIRST_RETRY;
      onState("connected");
    } else if (kind === "4") { // refused: {"message", "data": {"reason", "retry"}}
      // Retry what may pass later (Redis or the database briefly away, too many open
      // tabs) with the usual backoff; stop for good when signed out or the login ended.
      if (isRetryable(message.slice(1))) {
        waiting = true;
      } else {
        stopped = true;
        onState("refused");
      }
      socket.close();
    } else if (kind === "1") { // the server ended this connection
      socket.close();
    } else if (kind === "2") { // an event: 2[/namespace,][ack id]["name", data]
      const event = JSON.parse(message.slice(message.indexOf("[")));
      options.onEvent(event[0], event[1]);
    }
  }

  function open() {
    retry = null;
    onState("connecting");
    socket = new WebSocketClass(url);
    socket.onmessage = (event) => {
      try {
        onPacket(String(event.data));
      } catch (error) {
        socket.close(); // a packet we cannot read: start again
      }
    };
    socket.onclose = () => {
      clearTimeout(watchdog);
      socket = null;
      if (stopped) {
        return;
      }
      onState(waiting ? "waiting" : "disconnected");
      waiting = false;
      retry = setTimeout(open, retryDelay + Math.floor(Math.random() * 500));
      retryDelay = Math.min(retryDelay * 2, LAST_RETRY);
    };
  }

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(retry);
      if (socket) {
        socket.close();
      }
    },
  };
}

function isRetryable(payload) {
  try {
    const data = JSON.parse(payload).data;
    return Boolean(data && data.retry === true);
  } catch (error) {
    return false;
  }
}
