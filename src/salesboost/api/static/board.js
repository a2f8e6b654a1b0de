// The numbers: the four totals at the top and a card per tool. Values come from `GET /activity` and
// `GET /cache/stats`; the small charts are the calls this page has seen, bucketed over the same window.

import { ring, sparkline, stackedBars } from "./charts.js";
import { $, cssVar, fmtMs, fmtPct, fmtRate, h, hueOf, setQuantity, setToolOrder } from "./dom.js";
import { bucketize, p95 } from "./stream.js";

const BUCKETS = 30;

function palette() {
  return {
    accent: cssVar("--accent"),
    ok: cssVar("--ok"),
    bad: cssVar("--bad"),
    warn: cssVar("--warn"),
    info: cssVar("--info"),
    grid: cssVar("--grid"),
    track: cssVar("--track"),
  };
}

function metric(label, valueEl) {
  return h("div", { class: "metric" }, h("div", { class: "metric-label" }, label), valueEl);
}

export class Board {
  constructor({ onRun }) {
    this.onRun = onRun;
    this.cards = new Map();
    this.activity = null;
    this.cache = null;
    this.windowSeconds = 300;
  }

  /** One card per tool the role may call, in the order of the tool list. */
  setTools(tools) {
    const container = $("#tool-cards");
    setToolOrder(tools.map((tool) => tool.name));
    this.cards.clear();
    container.replaceChildren(
      ...tools.map((tool) => {
        const values = {
          rate: h("div", { class: "metric-value" }, "–"),
          errors: h("div", { class: "metric-value" }, "–"),
          p95: h("div", { class: "metric-value" }, "–"),
          cache: h("div", { class: "metric-value" }, tool.cacheable ? "–" : "n/a"),
        };
        const spark = h("canvas", { class: "spark spark-sm", height: "34" });
        const hitBar = h("div", { class: "hitbar-fill" });
        const card = h(
          "article",
          { class: "card tool-card", dataset: { tool: tool.name }, style: `--hue:${hueOf(tool.name)}` },
          h(
            "header",
            { class: "tool-card-head" },
            h("span", { class: "tool-dot" }),
            h("h3", {}, tool.name),
            h(
              "button",
              { type: "button", class: "btn btn-ghost btn-xs", onclick: () => this.onRun(tool.name) },
              "Run",
            ),
          ),
          h("p", { class: "tool-card-desc", title: tool.description }, tool.description),
          h(
            "div",
            { class: "metrics" },
            metric("calls/min", values.rate),
            metric("errors", values.errors),
            metric("p95", values.p95),
            metric("cache", values.cache),
          ),
          h("div", { class: `hitbar${tool.cacheable ? "" : " off"}` }, hitBar),
          spark,
        );
        this.cards.set(tool.name, { card, values, spark, hitBar, tool });
        return card;
      }),
    );
    $("#tools-sub").textContent = `${tools.length} tools your role may call`;
  }

  update(activity, cache) {
    this.activity = activity;
    this.cache = cache;
    this.windowSeconds = activity.window_seconds;
    const rows = activity.tools;
    const calls = rows.reduce((n, r) => n + r.calls, 0);
    const errors = rows.reduce((n, r) => n + r.errors, 0);
    const perMinute = rows.reduce((n, r) => n + r.calls_per_minute, 0);
    const slowest = rows
      .filter((r) => r.p95_latency_ms !== null)
      .sort((a, b) => b.p95_latency_ms - a.p95_latency_ms)[0];
    $("#kpi-calls").textContent = fmtRate(perMinute);
    $("#kpi-calls-sub").textContent = `${calls.toLocaleString()} call${calls === 1 ? "" : "s"}`;
    $("#kpi-errors").textContent = calls ? fmtPct(errors / calls) : "–";
    $("#kpi-errors-sub").textContent = `${errors.toLocaleString()} failed`;
    $("#kpi-errors").classList.toggle("bad", calls > 0 && errors / calls >= 0.05);
    setQuantity($("#kpi-p95"), slowest ? fmtMs(slowest.p95_latency_ms) : "–");
    $("#kpi-p95-sub").textContent = slowest ? slowest.tool : "";
    $("#kpi-cache").textContent = cache.hits + cache.misses ? fmtPct(cache.hit_rate) : "–";
    const [hits, misses, size] = [cache.hits, cache.misses, cache.size].map((n) => n.toLocaleString());
    $("#kpi-cache-sub").textContent = `${hits} hits · ${misses} misses · ${size} cached`;
    for (const row of rows) {
      const entry = this.cards.get(row.tool);
      if (!entry) continue;
      entry.values.rate.textContent = fmtRate(row.calls_per_minute);
      entry.values.errors.textContent = row.calls ? fmtPct(row.error_rate) : "–";
      entry.values.errors.classList.toggle("bad", row.error_rate >= 0.05);
      setQuantity(entry.values.p95, fmtMs(row.p95_latency_ms));
      if (row.cache_hit_rate !== null) {
        entry.values.cache.textContent = row.calls ? fmtPct(row.cache_hit_rate) : "–";
        entry.hitBar.style.width = `${Math.round(row.cache_hit_rate * 100)}%`;
      }
      entry.card.classList.toggle("idle", row.calls === 0);
    }
  }

  /** Redraw every chart from the calls the stream knows (cheap: a few hundred points at most). */
  draw(stream) {
    const colors = palette();
    const recent = stream.since(this.windowSeconds);
    const buckets = bucketize(recent, this.windowSeconds, BUCKETS);
    stackedBars($("#spark-calls"), buckets, { ok: colors.accent, failed: colors.bad, grid: colors.grid });
    sparkline(
      $("#spark-errors"),
      buckets.map((b) => (b.ok + b.failed ? b.failed / (b.ok + b.failed) : null)),
      { color: colors.bad, grid: colors.grid },
    );
    sparkline(
      $("#spark-p95"),
      buckets.map((b) => p95(b.latencies)),
      { color: colors.warn, grid: colors.grid },
    );
    ring($("#cache-ring"), this.cache && this.cache.hits + this.cache.misses ? this.cache.hit_rate : null, {
      color: colors.info,
      track: colors.track,
    });
    for (const [name, entry] of this.cards) {
      const mine = bucketize(
        recent.filter((call) => call.tool === name),
        this.windowSeconds,
        BUCKETS,
      );
      stackedBars(entry.spark, mine, {
        ok: `hsl(${hueOf(name)} 70% 62%)`,
        failed: colors.bad,
        grid: colors.grid,
      });
    }
  }
}
