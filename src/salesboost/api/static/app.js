// The dashboard's entry point: sign-in, the theme, the session id, polling, the live socket, and wiring the
// stream, the board and the tool form together.

import { Api, LiveSocket, Unauthorized } from "./api.js";
import { Board } from "./board.js";
import { $, fmtClock, randomHex } from "./dom.js";
import { ToolRunner } from "./runner.js";
import { CallStream } from "./stream.js";

const KEY = "salesboost.key";
const SESSION = "salesboost.session";
const THEME = "salesboost.theme";
const WINDOW = "salesboost.window";
const POLL_MS = 5000;

const api = new Api("");
const sessionId = sessionStorage.getItem(SESSION) || `dash-${randomHex(6)}`;
sessionStorage.setItem(SESSION, sessionId);

let socket = null;
let pollTimer = null;
let pollSoon = null;
let role = null;

const board = new Board({
  onRun: (name) => {
    runner.select(name);
    $("#run-payload").focus({ preventScroll: true });
    $(".runner").scrollIntoView({ behavior: "smooth", block: "nearest" });
  },
});
const stream = new CallStream({
  body: $("#stream-body"),
  empty: $("#stream-empty"),
  onChange: () => board.draw(stream),
});
stream.ownSession = sessionId;
const runner = new ToolRunner({
  root: document,
  api,
  sessionId,
  onSent: (id) => stream.ownCalls.add(id),
  onResult: (envelope) => {
    stream.applyEnvelope(envelope, sessionId);
    clearTimeout(pollSoon);
    pollSoon = setTimeout(poll, 400);
  },
  onUnauthorized: () => signOut("The server no longer accepts this key."),
});

// --- theme ---------------------------------------------------------------------------------------------

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  board.draw(stream);
}

applyTheme(
  localStorage.getItem(THEME) || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"),
);
$("#theme").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem(THEME, next);
  applyTheme(next);
});

// --- connection state -----------------------------------------------------------------------------------

function setConnection(state, detail) {
  const conn = $("#conn");
  conn.dataset.state = state;
  const text = {
    connecting: "Connecting…",
    live: role === "admin" ? "Live · all sessions" : "Live · your session",
    reconnecting: `Reconnecting in ${Math.ceil((detail ?? 0) / 1000)} s`,
    refused: "Stream refused",
  }[state];
  $("#conn-text").textContent = text;
  if (state === "live" && detail?.timestamp)
    conn.title = `Last message ${fmtClock(Date.parse(detail.timestamp))}`;
}

// --- polling -------------------------------------------------------------------------------------------

async function poll() {
  if (!role || document.hidden) return;
  const windowSeconds = Number($("#window").value);
  try {
    const [activity, cache] = await Promise.all([api.activity(windowSeconds), api.cacheStats()]);
    board.update(activity, cache);
    stream.applyRecent(activity.recent);
    board.draw(stream);
    $("#footer-status").textContent = `Updated ${fmtClock(Date.now())} · refreshes every ${POLL_MS / 1000} s`;
    $("#footer-status").classList.remove("bad");
  } catch (error) {
    if (error instanceof Unauthorized) {
      signOut("The server no longer accepts this key.");
      return;
    }
    $("#footer-status").textContent = `Update failed (${error.message}); retrying`;
    $("#footer-status").classList.add("bad");
  }
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) poll();
});
$("#window").value = localStorage.getItem(WINDOW) || "300";
$("#window").addEventListener("change", () => {
  localStorage.setItem(WINDOW, $("#window").value);
  poll();
});

// --- stream filters ------------------------------------------------------------------------------------

for (const button of document.querySelectorAll("[data-filter]")) {
  button.addEventListener("click", () => {
    document.querySelectorAll("[data-filter]").forEach((b) => b.classList.toggle("active", b === button));
    stream.setFilter(button.dataset.filter);
  });
}
$("#stream-search").addEventListener("input", (event) => stream.setSearch(event.target.value));
document.addEventListener("keydown", (event) => {
  const typing = event.target.closest("input, textarea, select");
  if (event.key === "/" && !typing && role) {
    event.preventDefault();
    $("#stream-search").focus();
  }
});

// --- sign in / out -------------------------------------------------------------------------------------

function showLogin(message) {
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-error").hidden = !message;
  $("#login-error").textContent = message ?? "";
  $("#api-key").focus();
}

async function signIn(key) {
  api.key = key;
  const listing = await api.tools();
  role = listing.role;
  sessionStorage.setItem(KEY, key);
  $("#role").textContent = role;
  $("#role").title = `Signed in as ${role} (key …${key.slice(-4)})`;
  $("#stream-sub").textContent =
    role === "admin"
      ? "Every tool call of every session, as it happens"
      : "The tool calls of your sessions, as they happen";
  $("#footer-session").textContent = `session ${sessionId}`;
  board.setTools(listing.tools);
  runner.setTools(listing.tools);
  $("#login").hidden = true;
  $("#app").hidden = false;
  socket = new LiveSocket({
    key,
    sessionId: role === "admin" ? null : sessionId,
    onEvent: (event) => {
      if (event.event === "tool_status") stream.applyEvent(event);
    },
    onState: setConnection,
    onRejected: (code, reason) => setConnection("refused", reason || String(code)),
  });
  socket.start();
  await poll();
  pollTimer = setInterval(poll, POLL_MS);
}

function signOut(message) {
  socket?.stop();
  socket = null;
  clearInterval(pollTimer);
  role = null;
  api.key = "";
  stream.clear();
  sessionStorage.removeItem(KEY);
  showLogin(message);
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  if (!key) return;
  const button = $("#login-submit");
  button.disabled = true;
  try {
    await signIn(key);
    $("#api-key").value = "";
  } catch (error) {
    showLogin(
      error instanceof Unauthorized
        ? "That key was not accepted."
        : `Cannot reach the server: ${error.message}`,
    );
  } finally {
    button.disabled = false;
  }
});
$("#logout").addEventListener("click", () => signOut());

window.addEventListener("resize", () => board.draw(stream));

const saved = sessionStorage.getItem(KEY);
if (saved) {
  signIn(saved).catch((error) =>
    showLogin(
      error instanceof Unauthorized ? "Your saved key was not accepted; sign in again." : error.message,
    ),
  );
} else {
  showLogin();
}
