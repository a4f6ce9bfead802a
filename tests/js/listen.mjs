// Connect the official Socket.IO JavaScript client to a Doable server and report, one
// JSON line on stdout each, everything that happens. Driven by
// tests/realtime/test_js_client.py; exits on SIGTERM or when stdin closes.
//
//   node listen.mjs URL TOKEN [default|websocket] [--no-reconnection]
//
// "default" passes no transports option at all, exactly as a new user would write
// io(url, {auth: {token}}): long-polling first, then an upgrade to WebSocket.
// "websocket" passes transports: ["websocket"].
import { io } from "socket.io-client";

const [url, token, transports = "default", ...flags] = process.argv.slice(2);
if (!url || token === undefined || !["default", "websocket"].includes(transports)) {
  process.stderr.write("usage: node listen.mjs URL TOKEN [default|websocket] [--no-reconnection]\n");
  process.exit(2);
}

const options = { auth: { token } };
if (transports === "websocket") options.transports = ["websocket"];
if (flags.includes("--no-reconnection")) options.reconnection = false;

// Pipes are written synchronously on Linux, so each line is out before the next event.
const report = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const describe = (value) =>
  value === undefined || value === null ? null : String(value?.message ?? value);

const socket = io(url, options);
const transportName = () => socket.io.engine?.transport?.name ?? null;

// The manager makes a new engine for each (re)connection; watch each one.
socket.io.on("open", () => {
  const engine = socket.io.engine;
  report({ type: "open", transport: engine.transport.name });
  engine.on("upgrade", (transport) => report({ type: "upgrade", transport: transport.name }));
  engine.on("upgradeError", (err) =>
    report({ type: "upgrade_error", message: describe(err), description: describe(err.description) }),
  );
});
socket.io.on("error", (err) =>
  report({
    type: "manager_error",
    message: describe(err),
    description: describe(err.description),
    context: err.context?.statusText ?? null,
  }),
);
socket.io.on("reconnect_attempt", (attempt) => report({ type: "reconnect_attempt", attempt }));

socket.on("connect", () => report({ type: "connect", transport: transportName(), id: socket.id }));
socket.on("connect_error", (err) =>
  report({
    type: "connect_error",
    message: err.message,
    data: err.data ?? null,
    description: describe(err.description),
    transport: transportName(),
  }),
);
socket.on("disconnect", (reason, details) =>
  report({ type: "disconnect", reason, description: describe(details?.description) }),
);
socket.onAny((event, ...args) =>
  report({
    type: "event",
    event,
    data: args.length === 1 ? args[0] : args,
    transport: transportName(),
  }),
);

let closing = false;
const close = () => {
  if (closing) return;
  closing = true;
  socket.close();
  process.stdout.write("", () => process.exit(0));
};
process.on("SIGTERM", close);
process.on("SIGINT", close);
process.stdin.on("end", close);
process.stdin.on("close", close);
process.stdin.resume();
