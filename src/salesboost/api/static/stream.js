// The live stream of calls: one record per tool_call_id, fed by WebSocket events (started rows turn into
// completed or failed) and by the activity endpoint's latest calls; drawn as a keyed table so a new row
// slides in without redrawing the others.

import { fmtClock, fmtMs, h, hueOf } from "./dom.js";

const MAX_CALLS = 400;
const MAX_ROWS = 150;

export class CallStream {
  constructor({ body, empty, onChange }) {
    this.body = body;
    this.empty = empty;
    this.onChange = onChange;
    this.calls = new Map();
    this.rows = new Map();
    this.filter = "all";
    this.search = "";
    this.ownSession = null;
    this.ownCalls = new Set();
    this.scheduled = false;
  }

  /** A `tool_status` event from the WebSocket. */
  applyEvent(event) {
    const data = event.data ?? {};
    if (!data.tool_call_id) return;
    const at = Date.parse(event.timestamp) || Date.now();
    this.merge(
      data.tool_call_id,
      {
        tool: data.tool_name,
        role: data.caller_role,
        status: data.status,
        latency: data.latency_ms ?? null,
        cached: data.cached ?? null,
        retries: data.retry_count ?? 0,
        preview: data.result_preview ?? null,
        error: data.error ?? null,
        errorCode: data.error_code ?? null,
      },
      at,
    );
  }

  /** The latest calls of `GET /activity`, newest first (they carry no preview; events may add one). */
  applyRecent(recent) {
    for (const call of recent) {
      this.merge(
        call.tool_call_id,
        {
          tool: call.tool,
          role: call.caller_role,
          status: call.status,
          latency: call.latency_ms,
          cached: call.cached,
          errorCode: call.error_code,
          sessionId: call.session_id,
        },
        Date.parse(call.timestamp) || Date.now(),
      );
    }
  }

  /** What the form's own call answered: fills the row even if the socket is down. */
  applyEnvelope(envelope, sessionId) {
    this.merge(
      envelope.tool_call_id,
      {
        tool: envelope.tool,
        role: envelope.caller_role,
        status: envelope.ok ? "completed" : "failed",
        latency: envelope.latency_ms,
        cached: envelope.cached,
        retries: envelope.retry_count,
        error: envelope.error?.message ?? null,
        errorCode: envelope.error?.code ?? null,
        sessionId,
      },
      Date.now(),
    );
  }

  merge(id, fields, at) {
    const known = this.calls.get(id);
    if (known) {
      // A late `started` (or a stale audit row) never turns a finished call back into a running one.
      const finished = known.status === "completed" || known.status === "failed";
      if (finished && fields.status === "started") return;
      for (const [name, value] of Object.entries(fields)) {
        if (value !== null && value !== undefined) known[name] = value;
      }
      known.version += 1;
    } else {
      this.calls.set(id, { id, at, version: 0, fresh: true, retries: 0, ...fields });
      this.trim();
    }
    this.schedule();
  }

  /** Drop the calls first seen longest ago (a Map iterates in insertion order). */
  trim() {
    for (const id of this.calls.keys()) {
      if (this.calls.size <= MAX_CALLS) break;
      this.calls.delete(id);
      this.rows.get(id)?.el.remove();
      this.rows.delete(id);
    }
  }

  /** Forget every call (another key signs in). */
  clear() {
    this.calls.clear();
    this.ownCalls.clear();
    for (const row of this.rows.values()) row.el.remove();
    this.rows.clear();
    this.schedule();
  }

  setFilter(filter) {
    this.filter = filter;
    this.schedule();
  }

  setSearch(text) {
    this.search = text.trim().toLowerCase();
    this.schedule();
  }

  /** Calls started within the last `seconds`, for the charts. */
  since(seconds) {
    const from = Date.now() - seconds * 1000;
    return [...this.calls.values()].filter((call) => call.at >= from);
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
      this.onChange();
    });
  }

  visible(call) {
    if (this.filter === "running" && call.status !== "started") return false;
    if (this.filter === "failed" && call.status !== "failed") return false;
    if (!this.search) return true;
    const haystack = [call.tool, call.role, call.status, call.errorCode, call.preview, call.error, call.id]
      .filter(Boolean)
      .join(" ")
      .toLowerCase();
    return haystack.includes(this.search);
  }

  render() {
    const ordered = [...this.calls.values()]
      .filter((call) => this.visible(call))
      .sort((a, b) => b.at - a.at)
      .slice(0, MAX_ROWS);
    const wanted = new Set(ordered.map((call) => call.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) row.el.remove();
    }
    ordered.forEach((call, i) => {
      let row = this.rows.get(call.id);
      if (!row) {
        row = { el: h("tr", { dataset: { id: call.id } }), version: -1 };
        this.rows.set(call.id, row);
      }
      if (row.version !== call.version) {
        this.fill(row.el, call);
        row.version = call.version;
      }
      if (call.fresh) {
        row.el.classList.add("fresh");
        call.fresh = false;
      }
      const current = this.body.children[i];
      if (current !== row.el) this.body.insertBefore(row.el, current ?? null);
    });
    this.empty.hidden = ordered.length > 0;
  }

  fill(tr, call) {
    const mine = this.ownCalls.has(call.id) || (call.sessionId && call.sessionId === this.ownSession);
    tr.className = `status-${call.status}${mine ? " mine" : ""}`;
    tr.dataset.status = call.status;
    tr.dataset.tool = call.tool ?? "";
    const statusText = call.status === "started" ? "running" : call.status;
    const detail = call.status === "failed" ? call.error : call.preview;
    tr.replaceChildren(
      h("td", { class: "time", title: new Date(call.at).toISOString() }, fmtClock(call.at)),
      h(
        "td",
        { class: "tool" },
        h("span", { class: "tool-dot", style: `--hue:${hueOf(call.tool ?? "")}` }),
        call.tool ?? "?",
      ),
      h("td", {}, h("span", { class: "role" }, call.role ?? "")),
      h("td", {}, h("span", { class: `pill pill-${call.status}` }, h("span", { class: "pill-dot" }), statusText)),
      h(
        "td",
        { class: `num latency${call.latency > 1000 ? " slow" : ""}` },
        call.status === "started" ? "…" : fmtMs(call.latency),
      ),
      h(
        "td",
        {},
        call.cached ? h("span", { class: "cache-hit" }, "HIT") : h("span", { class: "muted" }, "–"),
        call.retries > 0 ? h("span", { class: "retries", title: "retries" }, `↻${call.retries}`) : null,
      ),
      h(
        "td",
        { class: "preview", title: [call.errorCode, detail].filter(Boolean).join(": ") },
        call.errorCode ? h("span", { class: "code" }, call.errorCode) : null,
        detail ?? "",
      ),
    );
  }
}

/** Calls per time bucket over the window: `{ok, failed, latencies[]}` each, oldest first. */
export function bucketize(calls, windowSeconds, count) {
  const size = (windowSeconds * 1000) / count;
  const start = Date.now() - windowSeconds * 1000;
  const buckets = Array.from({ length: count }, () => ({ ok: 0, failed: 0, latencies: [] }));
  for (const call of calls) {
    const i = Math.floor((call.at - start) / size);
    if (i < 0 || i >= count || call.status === "started") continue;
    const bucket = buckets[i];
    if (call.status === "failed") bucket.failed += 1;
    else bucket.ok += 1;
    if (typeof call.latency === "number") bucket.latencies.push(call.latency);
  }
  return buckets;
}

/** The 95th percentile (nearest rank) of a list of numbers, or null. */
export function p95(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1];
}
