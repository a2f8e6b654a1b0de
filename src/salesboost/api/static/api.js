// The HTTP and WebSocket surface the page talks to (docs/contract.md, section 7), with the key as a Bearer header.

export class Unauthorized extends Error {}

export class Api {
  constructor(key) {
    this.key = key;
  }

  /** `{status, data}` for any answer with a JSON body; throws `Unauthorized` on 401, Error otherwise. */
  async request(method, path, { body, headers = {} } = {}) {
    const init = { method, headers: { Authorization: `Bearer ${this.key}`, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, init);
    if (response.status === 401) throw new Unauthorized("the server did not accept this API key");
    let data = null;
    try {
      data = await response.json();
    } catch {
      throw new Error(`${method} ${path} answered ${response.status} without JSON`);
    }
    return { status: response.status, data };
  }

  async get(path) {
    const { status, data } = await this.request("GET", path);
    if (status !== 200) throw new Error(data?.error?.message || `${path} answered ${status}`);
    return data;
  }

  tools() {
    return this.get("/api/v1/tools");
  }

  activity(windowSeconds) {
    return this.get(`/api/v1/tools/activity?window_seconds=${windowSeconds}`);
  }

  cacheStats() {
    return this.get("/api/v1/tools/cache/stats");
  }

  /** The envelope of one call, whatever its HTTP status; every call carries an Idempotency-Key. */
  execute(body, idempotencyKey) {
    return this.request("POST", "/api/v1/tools/execute", {
      body,
      headers: { "Idempotency-Key": idempotencyKey },
    });
  }
}

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

/**
 * `/ws/chat`: authenticates in its first message (never in the URL), reconnects with capped, jittered
 * exponential backoff, and reports its state to `onState(state, detail)`.
 */
export class LiveSocket {
  constructor({ key, sessionId, onEvent, onState, onRejected }) {
    Object.assign(this, { key, sessionId, onEvent, onState, onRejected });
    this.attempt = 0;
    this.stopped = false;
    this.socket = null;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "signed out");
    this.socket = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = this.sessionId ? `?session_id=${encodeURIComponent(this.sessionId)}` : "";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/chat${query}`);
    this.socket = socket;
    this.onState("connecting");
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", api_key: this.key })));
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.event === "subscribed") {
        this.attempt = 0;
        this.onState("live", event);
      } else if (event.event === "heartbeat") {
        this.onState("live", event);
      } else {
        this.onEvent(event);
      }
    });
    socket.addEventListener("close", (close) => {
      if (this.socket !== socket || this.stopped) return;
      if (close.code === CLOSE_UNAUTHORIZED || close.code === CLOSE_FORBIDDEN) {
        this.onRejected(close.code, close.reason);
        return;
      }
      this.retry();
    });
  }

  retry() {
    const base = Math.min(30_000, 1000 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    this.onState("reconnecting", delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
