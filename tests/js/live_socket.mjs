// Run the pages' own Socket.IO client (src/doable/static/live/socket.js) alone, without a
// page, against a Doable server, and report, one JSON line on stdout each, every state it
// reports and every event it hands over. Driven by tests/realtime/test_live_socket.py.
//
//   node live_socket.mjs URL TOKEN [--until-idle]
//
// An empty TOKEN connects without auth (as a page does, but with no cookie to send).
// --until-idle: do not wait for stdin; node exits once the client has nothing left to do
// (no socket, no retry pending), which is how a test sees that it stopped for good.
// Node 20 has no WebSocket of its own yet: the one socket.io-client installs (ws) stands in.
import { WebSocket } from "ws";
import { connect, websocketUrl } from "../../src/doable/static/live/socket.js";

const [url, token, ...flags] = process.argv.slice(2);
if (!url || token === undefined) {
  process.stderr.write("usage: node live_socket.mjs URL TOKEN [--until-idle]\n");
  process.exit(2);
}

const report = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const client = connect(websocketUrl("socket.io/", url), {
  WebSocket,
  auth: token ? { token } : undefined,
  onState: (state) => report({ type: "state", state }),
  onEvent: (event, data) => report({ type: "event", event, data }),
});

if (!flags.includes("--until-idle")) {
  const close = () => {
    client.close();
    process.stdout.write("", () => process.exit(0));
  };
  process.on("SIGTERM", close);
  process.stdin.on("end", close);
  process.stdin.on("close", close);
  process.stdin.resume();
}
