// "Run a tool": pick a tool, edit its payload (prefilled from its first example), see field errors from
// the tool's JSON schema before anything is sent, then run it and show the envelope.

import { Unauthorized } from "./api.js";
import { fmtMs, h, randomHex, uuid } from "./dom.js";
import { fieldsOf, validate } from "./validate.js";

const REMEMBERED_TOOL = "salesboost.tool";

function escapeHtml(text) {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

/** Pretty JSON with token classes for colour; every token is escaped before it becomes markup. */
function highlight(value) {
  const json = JSON.stringify(value, null, 2) ?? "null";
  const token = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let out = "";
  let last = 0;
  for (const match of json.matchAll(token)) {
    out += escapeHtml(json.slice(last, match.index));
    const [text, string, colon, literal, number] = match;
    if (string)
      out += `<span class="${colon ? "j-key" : "j-str"}">${escapeHtml(string)}</span>${colon ?? ""}`;
    else if (literal) out += `<span class="j-lit">${literal}</span>`;
    else if (number) out += `<span class="j-num">${number}</span>`;
    else out += escapeHtml(text);
    last = match.index + text.length;
  }
  return out + escapeHtml(json.slice(last));
}

function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

export class ToolRunner {
  constructor({ root, api, sessionId, onSent, onResult, onUnauthorized }) {
    this.el = {
      form: root.querySelector("#run-form"),
      tool: root.querySelector("#run-tool"),
      desc: root.querySelector("#run-desc"),
      badges: root.querySelector("#run-badges"),
      examples: root.querySelector("#run-examples"),
      payload: root.querySelector("#run-payload"),
      errors: root.querySelector("#run-errors"),
      fields: root.querySelector("#run-fields"),
      submit: root.querySelector("#run-submit"),
      format: root.querySelector("#run-format"),
      curl: root.querySelector("#run-curl"),
      result: root.querySelector("#result"),
      resultHead: root.querySelector("#result-head"),
      resultJson: root.querySelector("#result-json"),
    };
    Object.assign(this, { api, sessionId, onSent, onResult, onUnauthorized });
    this.tools = new Map();
    this.running = false;
    this.timer = null;
    this.el.tool.addEventListener("change", () => this.select(this.el.tool.value));
    this.el.payload.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.check(), 150);
    });
    this.el.payload.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.el.form.requestSubmit();
      }
    });
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
    this.el.format.addEventListener("click", () => {
      const parsed = this.parse();
      if (parsed.ok) this.el.payload.value = JSON.stringify(parsed.value, null, 2);
    });
    this.el.curl.addEventListener("click", () => this.copyCurl());
  }

  get current() {
    return this.tools.get(this.el.tool.value);
  }

  /** The tools this role may call (from `GET /api/v1/tools`); keeps the chosen one when it still exists. */
  setTools(tools) {
    const previous = this.el.tool.value || sessionStorage.getItem(REMEMBERED_TOOL);
    this.tools = new Map(tools.map((tool) => [tool.name, tool]));
    this.el.tool.replaceChildren(...tools.map((tool) => h("option", { value: tool.name }, tool.name)));
    const chosen = this.tools.has(previous) ? previous : tools[0]?.name;
    if (chosen) this.select(chosen);
  }

  select(name, exampleIndex = 0) {
    const tool = this.tools.get(name);
    if (!tool) return;
    sessionStorage.setItem(REMEMBERED_TOOL, name);
    this.el.tool.value = name;
    this.el.desc.textContent = tool.description;
    this.el.desc.title = tool.description;
    this.renderExamples(tool, exampleIndex);
    this.el.payload.value = JSON.stringify(tool.examples[exampleIndex] ?? {}, null, 2);
    this.el.fields.replaceChildren(
      ...fieldsOf(tool.input_schema).map((field) =>
        h(
          "li",
          { title: field.description },
          h("code", {}, field.name),
          field.required ? h("span", { class: "req" }, "required") : null,
          h("span", { class: "muted" }, field.type),
        ),
      ),
    );
    this.check();
  }

  renderExamples(tool, active) {
    const chips = tool.examples.map((example, i) =>
      h(
        "button",
        {
          type: "button",
          class: `chip${i === active ? " active" : ""}`,
          title: JSON.stringify(example),
          onclick: () => this.select(tool.name, i),
        },
        String(i + 1),
      ),
    );
    this.el.examples.replaceChildren(
      ...(chips.length > 1 ? [h("span", { class: "muted" }, "Examples"), ...chips] : []),
    );
  }

  renderBadges(tool, action) {
    const writes =
      tool.actions && Object.keys(tool.actions).length
        ? tool.write_actions.includes(action)
        : !tool.read_only;
    const badges = [
      writes
        ? h(
            "span",
            {
              class: "badge badge-warn",
              title: "This call changes data; it is sent with an Idempotency-Key",
            },
            action ? `writes · ${action}` : "writes",
          )
        : h("span", { class: "badge" }, "read-only"),
      tool.cacheable ? h("span", { class: "badge badge-info" }, "cached") : null,
      h("span", { class: "badge" }, `timeout ${tool.timeout_seconds} s`),
      tool.write_actions.length
        ? h("span", { class: "badge" }, `actions: ${Object.keys(tool.actions).join(", ")}`)
        : null,
    ];
    this.el.badges.replaceChildren(...badges.filter(Boolean));
  }

  parse() {
    const text = this.el.payload.value.trim();
    if (!text) return { ok: true, value: {} };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return { ok: false, error: `Not valid JSON: ${error.message}` };
    }
  }

  /** Field errors of the payload as typed; returns the payload when it is valid, else null. */
  check() {
    const tool = this.current;
    if (!tool) return null;
    const parsed = this.parse();
    let problems;
    if (!parsed.ok) problems = [{ path: "", message: parsed.error }];
    else problems = validate(parsed.value, tool.input_schema);
    const action = parsed.ok ? parsed.value?.action : undefined;
    this.renderBadges(tool, typeof action === "string" ? action : undefined);
    this.el.errors.replaceChildren(
      ...problems.map((p) => h("li", {}, p.path ? h("code", {}, p.path) : null, ` ${p.message}`)),
    );
    this.el.payload.classList.toggle("invalid", problems.length > 0);
    this.el.payload.setAttribute("aria-invalid", String(problems.length > 0));
    this.el.form.classList.toggle("is-valid", problems.length === 0);
    return problems.length === 0 ? parsed.value : null;
  }

  async run() {
    const tool = this.current;
    const payload = this.check();
    if (!tool || payload === null || this.running) {
      if (payload === null) this.el.payload.focus();
      return;
    }
    const body = {
      tool: tool.name,
      payload,
      tool_call_id: `dash-${randomHex(8)}`,
      session_id: this.sessionId,
    };
    this.running = true;
    this.el.submit.disabled = true;
    this.el.submit.classList.add("busy");
    this.onSent(body.tool_call_id);
    try {
      const { status, data } = await this.api.execute(body, uuid());
      this.showEnvelope(status, data);
      if (data && typeof data.ok === "boolean" && data.tool_call_id) this.onResult(data);
    } catch (error) {
      if (error instanceof Unauthorized) this.onUnauthorized();
      else this.showEnvelope(0, { ok: false, error: { code: "NETWORK", message: error.message } });
    } finally {
      this.running = false;
      this.el.submit.disabled = false;
      this.el.submit.classList.remove("busy");
    }
  }

  showEnvelope(status, envelope) {
    const ok = envelope?.ok === true;
    const meta = [
      status ? `HTTP ${status}` : null,
      envelope.latency_ms !== undefined ? fmtMs(envelope.latency_ms) : null,
      envelope.cached ? "cache hit" : null,
      envelope.retry_count ? `${envelope.retry_count} retr${envelope.retry_count === 1 ? "y" : "ies"}` : null,
      envelope.audit_id ? `audit #${envelope.audit_id}` : null,
    ].filter(Boolean);
    this.el.resultHead.replaceChildren(
      h(
        "span",
        { class: `pill pill-${ok ? "completed" : "failed"}` },
        h("span", { class: "pill-dot" }),
        ok ? "ok" : (envelope.error?.code ?? "failed"),
      ),
      h("span", { class: "result-meta" }, meta.join(" · ")),
      envelope.tool_call_id
        ? h("code", { class: "result-id", title: "tool_call_id" }, envelope.tool_call_id)
        : null,
    );
    this.el.resultJson.innerHTML = highlight(ok ? envelope.result : (envelope.error ?? envelope));
    this.el.result.hidden = false;
    this.el.result.dataset.ok = String(ok);
  }

  async copyCurl() {
    const tool = this.current;
    const parsed = this.parse();
    if (!tool || !parsed.ok) return;
    const body = JSON.stringify({ tool: tool.name, payload: parsed.value });
    const command = [
      `curl -s ${location.origin}/api/v1/tools/execute`,
      `-H "Authorization: Bearer $SALESBOOST_API_KEY"`,
      `-H 'Content-Type: application/json'`,
      `-H "Idempotency-Key: $(uuidgen)"`,
      `-d ${shellQuote(body)}`,
    ].join(" \\\n  ");
    try {
      await navigator.clipboard.writeText(command);
      this.flash(this.el.curl, "Copied");
    } catch {
      // No clipboard (plain http on another host): show the command to copy by hand.
      this.el.resultHead.replaceChildren(
        h("span", { class: "result-meta" }, "curl (set SALESBOOST_API_KEY first)"),
      );
      this.el.resultJson.textContent = command;
      this.el.result.hidden = false;
      delete this.el.result.dataset.ok;
    }
  }

  flash(button, text) {
    const original = button.textContent;
    button.textContent = text;
    setTimeout(() => (button.textContent = original), 1400);
  }
}
