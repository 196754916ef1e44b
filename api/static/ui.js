// The switchover status page: polls ui/status.json every 2 s and redraws.
// Plain DOM (text nodes only, never innerHTML) and an inline SVG plot; no libraries.
"use strict";

(() => {
  const POLL_MS = 2000;
  const METRIC = "recall@10";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4c72b0", "#dd8452", "#8172b3", "#937860", "#da8bc3", "#64b5cd"];
  const DECISION_COLOURS = { pass: "#2e8b57", fail: "#c44e52", hold: "#d99a21" };
  const openEvents = new Set(); // metrics panels a reader opened stay open across refreshes

  // ---- DOM helpers ------------------------------------------------------------------------

  function build(node, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of (children || []).flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) =>
    build(document.createElementNS(SVG_NS, tag), attrs, children);

  function fill(id, ...children) {
    document.querySelector(`#${id} .content`).replaceChildren(...children.flat().filter(Boolean));
  }

  // ---- formatting -------------------------------------------------------------------------

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const num = (v, places = 3) => (isNum(v) ? v.toFixed(places) : "–");
  const signed = (v, places = 3) => (isNum(v) ? (v >= 0 ? "+" : "") + v.toFixed(places) : "–");
  const int = (v) => (isNum(v) ? Math.round(v).toLocaleString("en-US") : "–");
  const pct = (v) => (isNum(v) ? `${Number(v.toFixed(1))}%` : "–");

  function clock(epoch) {
    if (!isNum(epoch)) return "–";
    const d = new Date(epoch * 1000);
    return d.toLocaleTimeString("en-GB", { hour12: false });
  }

  function stamp(epoch) {
    if (!isNum(epoch)) return "–";
    const d = new Date(epoch * 1000);
    return `${d.toISOString().slice(0, 10)} ${clock(epoch)}`;
  }

  function duration(seconds) {
    if (!isNum(seconds)) return "–";
    if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  const badge = (kind, text) => el("span", { class: `badge ${kind}` }, text);
  const row = (label, ...value) => el("div", { class: "kv" }, el("span", {}, label), el("b", {}, ...value));

  function bar(share, title, marks) {
    const width = Math.max(0, Math.min(100, isNum(share) ? share : 0));
    const inner = el("div", { class: "fill" });
    inner.style.width = `${width}%`; // CSSOM, which the page's CSP allows (style attributes it does not)
    const meter = el("div", { class: "bar", title }, inner);
    for (const mark of marks || []) {
      const tick = el("div", { class: "mark", title: `${mark}%` });
      tick.style.left = `${mark}%`;
      meter.append(tick);
    }
    return meter;
  }

  // ---- sections ---------------------------------------------------------------------------

  function renderHeader(data) {
    const h = data.health || {};
    document.getElementById("health").replaceChildren(
      "serving ", el("b", {}, h.serving || "–"),
      ` · ${int(h.documents)} documents · last seq ${int(h.last_seq)}`,
    );
    document.getElementById("updated").textContent = `updated ${clock(data.generated_at)}`;
  }

  function renderMigration(m) {
    if (!m) {
      fill("migration", el("p", { class: "muted" }, "No migration yet. Start one with ",
        el("code", {}, "switchover migrate start"), "."));
      return;
    }
    const live = m.live || {};
    const served = Object.entries(live.served || {}).map(([name, n]) => `${name} ${int(n)}`);
    const shadow = live.shadow || {};
    fill(
      "migration",
      el("div", { class: "headline" },
        el("span", { class: "route" }, `#${m.id} ${m.source} → ${m.target}`),
        el("span", { class: `badge phase phase-${m.phase}`, "data-phase": m.phase }, m.phase)),
      row("reads routed to target", pct(m.target_share)),
      bar(m.target_share, "share of reads served by the target", m.plan && m.plan.canary_steps),
      row("canary plan", ((m.plan && m.plan.canary_steps) || []).map(pct).join(" → ") || "–"),
      row("target lag", `${int(live.target_lag_records)} records · ${duration(live.target_lag_seconds)}`),
      row("served", served.join(" · ") || "–"),
      row("shadow reads", `${int(shadow.completed)} · overlap ${num(shadow.mean_overlap)}`),
      row("eval set", (m.plan && m.plan.eval_set) || "none"),
      row("updated", stamp(m.updated_at)),
    );
  }

  function renderBackfill(m) {
    const b = (m && m.backfill) || null;
    if (!b || !isNum(b.started_at)) {
      fill("backfill", el("p", { class: "muted" }, m ? "Not started." : "–"));
      return;
    }
    const share = b.total > 0 ? (100 * b.done) / b.total : b.finished ? 100 : 0;
    fill(
      "backfill",
      el("div", { class: "headline" },
        el("span", { class: "big" }, `${int(b.done)} / ${int(b.total)}`),
        b.finished ? badge("ok", "finished") : badge("hold", "copying")),
      bar(share, "documents copied"),
      row("rate", isNum(b.docs_per_s) ? `${num(b.docs_per_s, 1)} docs/s` : "–"),
      row("ETA", b.finished ? "done" : duration(b.eta_s)),
      row("as of seq", int(b.as_of_seq)),
      row("encoded", int(b.encoded)),
      b.error ? el("p", { class: "error" }, b.error) : null,
    );
  }

  function renderJudgement(m, runs) {
    // the watchdog's live session; else the newest judgement stored for this migration
    const stored = m && (runs || []).find((r) => r.migration_id === m.id && r.judgement);
    const j = (m && m.judgement) || (stored && {
      eval_set: (stored.meta || {}).eval_set || stored.eval_set,
      done: stored.judgement.n,
      pool: (stored.meta || {}).eval_set_sample,
      finished: true,
      judgement: stored.judgement,
      run: stored,
    });
    if (!j) {
      const why = !m ? "–"
        : m.plan && m.plan.eval_set ? "The watchdog judges while the migration is in shadow, canary or cutover."
          : "No eval set judges this migration.";
      fill("judgement", el("p", { class: "muted" }, why));
      return;
    }
    const verdict = j.judgement || {};
    fill(
      "judgement",
      el("div", { class: "headline" },
        el("span", { class: "big" }, verdict.decision || "waiting"),
        badge(verdict.decision || "hold", j.run ? `stored run #${j.run.id}` : j.finished ? "final" : "in progress")),
      bar(j.pool > 0 ? (100 * j.done) / j.pool : 0, "eval-set queries judged"),
      row("queries", `${int(j.done)} of ${int(j.pool)} (${j.eval_set})`),
      row("mean delta", signed(verdict.mean_delta)),
      row("interval", `[${signed(verdict.ci_low)}, ${signed(verdict.ci_high)}]`),
      row("margin", isNum(verdict.margin) ? `−${num(verdict.margin)}` : "–"),
      verdict.reason ? el("p", { class: "reason" }, verdict.reason) : null,
    );
  }

  function renderWatchdog(m) {
    // a watchdog whose ticks fail judges nothing: say so above the (cleared) checks
    const w = m && m.watchdog;
    if (!w || w.state !== "failing") return null;
    return el("p", { class: "error watchdog-failing", "data-failures": w.consecutive_failures },
      `Watchdog failing: ${int(w.consecutive_failures)} tick(s) in a row`,
      ` (reads on the target roll back after ${int(w.failsafe_after)}); last error: ${w.last_error}`);
  }

  function renderGuardrails(m) {
    const checks = (m && m.guardrails) || [];
    const failing = renderWatchdog(m);
    if (failing) {
      fill("guardrails", failing, el("p", { class: "muted" }, "No current checks: the last tick failed."));
      return;
    }
    if (!checks.length) {
      fill("guardrails", el("p", { class: "muted" },
        "Guardrails are checked each second while a migration is in shadow, canary or cutover."));
      return;
    }
    fill("guardrails", el("table", {},
      el("thead", {}, el("tr", {}, ["guardrail", "state", "observed", "threshold", "n", "detail"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, checks.map((c) => el("tr", { class: "guardrail", "data-name": c.name, "data-state": c.state },
        el("td", {}, c.name), el("td", {}, badge(c.state, c.state)), el("td", { class: "n" }, num(c.observed)),
        el("td", { class: "n" }, num(c.threshold)), el("td", { class: "n" }, int(c.n)),
        el("td", { class: "detail" }, c.detail))))));
  }

  // Per slice (a plan with slice keys): the slice's share of reads on the target, and its
  // own judgement; a rolled-back slice reads only the source while the others keep theirs.
  function renderSlices(m) {
    const slices = (m && m.slices) || null;
    if (!slices) {
      fill("slices", el("p", { class: "muted" }, "No slice keys in this migration's plan."));
      return;
    }
    if (!slices.length) {
      fill("slices", el("p", { class: "muted" }, "No slice judged yet."));
      return;
    }
    fill("slices", el("table", {},
      el("thead", {}, el("tr", {}, ["slice", "target share", "judgement", "n", "delta", "interval"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, slices.map((s) => {
        const j = s.judgement || {};
        const decision = s.rolled_back ? "rolled back" : (j.decision || "no queries yet");
        const kind = s.rolled_back ? "breach" : ({ pass: "ok", fail: "breach" }[j.decision] || "hold");
        return el("tr", { class: "slice", "data-slice": s.label, "data-rolled-back": s.rolled_back ? "true" : "false" },
          el("td", {}, s.label), el("td", { class: "n" }, pct(s.target_share)),
          el("td", {}, badge(kind, decision)), el("td", { class: "n" }, int(j.n)),
          el("td", { class: "n" }, signed(j.mean_delta)),
          el("td", { class: "n" }, `[${signed(j.ci_low)}, ${signed(j.ci_high)}]`));
      }))));
  }

  function renderIndexes(indexes, m) {
    const params = (p) => Object.entries(p || {}).filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} ${v}`).join(", ");
    fill("indexes", el("table", {},
      el("thead", {}, el("tr", {}, ["index", "role", "layout", "documents", "applied seq", "lag",
        "p95 latency (5 min)", "last error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (indexes || []).map((i) => {
        const isTarget = m && i.name === m.target;
        return el("tr", { class: isTarget ? "index target" : "index", "data-name": i.name },
          el("td", {}, el("b", {}, i.name)),
          el("td", {}, isTarget ? `${i.role} (target)` : i.role),
          el("td", {}, i.factory, params(i.search_params) ? el("span", { class: "muted" }, ` · ${params(i.search_params)}`) : null),
          el("td", { class: "n" }, int(i.count)),
          el("td", { class: "n" }, int(i.applied_seq)),
          el("td", { class: i.lag_records > 0 ? "n warn" : "n" }, `${int(i.lag_records)} · ${duration(i.lag_seconds)}`),
          el("td", { class: "n", "data-p95": isNum(i.p95_ms) ? i.p95_ms : null },
            isNum(i.p95_ms) ? `${num(i.p95_ms, 1)} ms` : "–",
            el("span", { class: "muted" }, ` (${int(i.latency_samples)})`)),
          el("td", { class: "error" }, i.last_error || ""));
      }))));
  }

  // ---- the plot ---------------------------------------------------------------------------

  const W = 820;
  const LEFT = 64;
  const RIGHT = 16;
  const TOP_PANEL = [34, 150]; // [top y, height]
  const BOTTOM_PANEL = [226, 130];
  const H = 420;

  function span(values, floor, ceiling) {
    if (!values.length) return [floor, ceiling];
    const low = Math.min(...values);
    const high = Math.max(...values);
    const pad = Math.max((high - low) * 0.1, 0.01);
    return [Math.max(low - pad, floor), Math.min(high + pad, ceiling)];
  }

  function ticks(low, high) {
    const raw = (high - low) / 4;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const out = [];
    for (let i = Math.ceil(low / step); i * step <= high + 1e-12; i += 1) out.push(i * step);
    return out;
  }

  function panel(parts, [top, height], [low, high], title, label) {
    const y = (v) => top + (height * (high - v)) / (high - low);
    parts.push(svg("text", { class: "panel-title", x: LEFT, y: top - 10 }, title));
    for (const t of ticks(low, high)) {
      parts.push(svg("line", { x1: LEFT, x2: W - RIGHT, y1: y(t), y2: y(t), class: "grid" }));
      parts.push(svg("text", { x: LEFT - 6, y: y(t) + 4, "text-anchor": "end" }, t.toFixed(2)));
    }
    parts.push(svg("line", { x1: LEFT, x2: LEFT, y1: top, y2: top + height, class: "axis" }));
    parts.push(svg("text", { class: "axis-label", x: 14, y: top + height / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${top + height / 2})` }, label));
    return y;
  }

  function deltaOf(run) {
    const j = run.judgement;
    if (j && j.metric === METRIC && isNum(j.mean_delta)) return j.mean_delta;
    return ((run.summary || {}).delta || {})[METRIC];
  }

  function plotColumns(runs, m) {
    const columns = runs
      .filter((r) => r.summary)
      .sort((a, b) => (a.at || 0) - (b.at || 0) || a.id - b.id)
      .map((r) => ({
        key: `#${r.id}`,
        run: r.id,
        at: r.at,
        migration: r.migration_id,
        decision: r.decision || (r.judgement && r.judgement.decision) || null,
        recall: [ // [index, value, x offset]: source left of the column, target right
          [r.source, (r.summary.source || {})[METRIC], -7],
          [r.target, (r.summary.target || {})[METRIC], 7],
        ],
        delta: deltaOf(r),
        ci: r.judgement && r.judgement.metric === METRIC ? [r.judgement.ci_low, r.judgement.ci_high] : null,
        margin: r.judgement ? r.judgement.margin : null,
        live: false,
      }));
    const j = m && m.judgement;
    const verdict = j && j.judgement;
    if (verdict && !j.finished && isNum(verdict.mean_delta)) { // the judgement still drawing queries
      columns.push({ key: "live", run: null, at: null, migration: m.id, decision: verdict.decision,
        recall: [], delta: verdict.mean_delta, ci: [verdict.ci_low, verdict.ci_high],
        margin: verdict.margin, live: true });
    }
    return columns.slice(-40);
  }

  function renderPlot(runs, m) {
    const columns = plotColumns(runs || [], m);
    if (!columns.length) {
      fill("plot", el("p", { class: "muted" },
        "No eval runs yet: the watchdog stores one each time a recall judgement completes."));
      return;
    }
    const names = [];
    for (const c of columns) for (const [name] of c.recall) if (name && !names.includes(name)) names.push(name);
    const colour = (name) => PALETTE[names.indexOf(name) % PALETTE.length];
    const step = (W - LEFT - RIGHT) / columns.length;
    const xs = columns.map((_, i) => LEFT + step * (i + 0.5));
    const parts = [];

    // top: recall@10 of every index an eval run measured
    const recalls = columns.flatMap((c) => c.recall.map(([, v]) => v)).filter(isNum);
    const yTop = panel(parts, TOP_PANEL, span(recalls, 0, 1), `${METRIC} per index`, METRIC);
    for (const name of names) {
      const pts = columns.map((c, i) => {
        const [, value, offset] = c.recall.find(([n]) => n === name) || [];
        return [xs[i] + (offset || 0), value, c];
      }).filter(([, v]) => isNum(v));
      if (pts.length > 1) {
        parts.push(svg("polyline", { class: "line", "data-series": name, stroke: colour(name), fill: "none",
          points: pts.map(([x, v]) => `${x.toFixed(1)},${yTop(v).toFixed(1)}`).join(" ") }));
      }
      for (const [x, v, c] of pts) {
        parts.push(svg("circle", { class: "point recall", "data-series": name, "data-run": c.run, "data-value": v,
          cx: x.toFixed(1), cy: yTop(v).toFixed(1), r: 4.5, fill: colour(name) },
          svg("title", {}, `${name}: ${METRIC} ${num(v)} (run ${c.key}, migration #${c.migration})`)));
      }
    }

    // bottom: paired delta (target − source) with its interval, coloured by the decision
    const margin = [...columns].reverse().map((c) => c.margin).find(isNum);
    const deltas = columns.flatMap((c) => [c.delta, ...(c.ci || [])]).filter(isNum);
    const guides = [0, ...(isNum(margin) ? [-margin] : [])];
    const yBottom = panel(parts, BOTTOM_PANEL, span([...deltas, ...guides], -1, 1),
      `paired ${METRIC} delta (target − source) and its interval`, "delta");
    parts.push(svg("line", { x1: LEFT, x2: W - RIGHT, y1: yBottom(0), y2: yBottom(0), class: "zero" }));
    if (isNum(margin)) {
      parts.push(svg("line", { x1: LEFT, x2: W - RIGHT, y1: yBottom(-margin), y2: yBottom(-margin), class: "margin" }));
    }
    columns.forEach((c, i) => {
      const x = xs[i];
      const tint = DECISION_COLOURS[c.decision] || "#888";
      if (c.ci && isNum(c.ci[0]) && isNum(c.ci[1])) {
        const [lo, hi] = [yBottom(c.ci[0]), yBottom(c.ci[1])];
        parts.push(svg("path", { class: "ci", stroke: tint, fill: "none",
          d: `M${x - 5},${hi}H${x + 5}M${x},${hi}V${lo}M${x - 5},${lo}H${x + 5}` }));
      }
      if (isNum(c.delta)) {
        parts.push(svg("circle", { class: `point delta${c.live ? " live" : ""}`, "data-series": "delta",
          "data-run": c.run, "data-value": c.delta, "data-decision": c.decision,
          cx: x.toFixed(1), cy: yBottom(c.delta).toFixed(1), r: 5, fill: c.live ? "#fff" : tint, stroke: tint },
          svg("title", {}, `${c.key}: delta ${signed(c.delta)}, ${c.decision || "no judgement"}`)));
      }
    });

    // x axis: one column per run, labelled with its id, migration and time
    const bottom = BOTTOM_PANEL[0] + BOTTOM_PANEL[1];
    parts.push(svg("line", { x1: LEFT, x2: W - RIGHT, y1: bottom, y2: bottom, class: "axis" }));
    const every = Math.max(1, Math.ceil(columns.length / 10));
    columns.forEach((c, i) => {
      if (i % every !== 0 && i !== columns.length - 1) return;
      parts.push(svg("text", { x: xs[i], y: bottom + 16, "text-anchor": "middle" },
        c.live ? "live" : `${c.key} · m${c.migration ?? "–"}`));
      parts.push(svg("text", { x: xs[i], y: bottom + 30, "text-anchor": "middle", class: "muted" },
        c.live ? "in progress" : clock(c.at)));
    });
    parts.push(svg("text", { class: "axis-label", x: (LEFT + W - RIGHT) / 2, y: bottom + 50, "text-anchor": "middle" },
      "eval run (#run · migration), oldest first; in each column the source is drawn left, the target right"));

    const legend = el("div", { class: "legend" },
      names.map((name) => el("span", {}, swatch(colour(name)), name)),
      Object.entries(DECISION_COLOURS).map(([d, c]) => el("span", {}, swatch(c), `delta: ${d}`)),
      isNum(margin) ? el("span", {}, swatch("#c44e52", "dash"), `−margin (${num(-margin)})`) : null);
    fill("plot",
      svg("svg", { id: "recall-plot", viewBox: `0 0 ${W} ${H}`, role: "img",
        "aria-label": `${METRIC} per index and paired delta over ${columns.length} eval runs` }, parts),
      legend);
  }

  function swatch(colour, kind) {
    const s = el("i", { class: kind === "dash" ? "swatch dash" : "swatch" });
    s.style.setProperty("--c", colour);
    return s;
  }

  // ---- the audit timeline -----------------------------------------------------------------

  function renderTimeline(events) {
    if (!events || !events.length) {
      fill("timeline", el("p", { class: "muted" }, "No audit events yet."));
      return;
    }
    const groups = [];
    for (const e of events) { // newest first, grouped by migration
      if (!groups.length || groups[groups.length - 1].id !== e.migration_id) {
        groups.push({ id: e.migration_id, events: [] });
      }
      groups[groups.length - 1].events.push(e);
    }
    fill("timeline", groups.map((g) => el("div", { class: "group" },
      el("h3", {}, `Migration #${g.id}`),
      el("ol", { class: "events" }, g.events.map(eventItem)))));
  }

  function eventItem(e) {
    const share = e.to_phase === "canary" ? ` ${pct(e.canary_percent)}` : "";
    const details = el("details", { class: "metrics" },
      el("summary", {}, "evidence (metrics JSON)"),
      el("pre", {}, JSON.stringify(e.metrics, null, 2)));
    details.open = openEvents.has(e.id);
    details.addEventListener("toggle", () => {
      if (details.open) openEvents.add(e.id);
      else openEvents.delete(e.id);
    });
    const automatic = e.actor === "watchdog";
    return el("li", { class: `event to-${e.to_phase}${automatic ? " automatic" : ""}`, "data-id": e.id,
      "data-actor": e.actor, "data-to": e.to_phase, "data-migration": e.migration_id },
      el("div", { class: "when" }, stamp(e.at)),
      el("div", { class: "move" },
        el("span", { class: "muted" }, e.from_phase || "–"), " → ",
        el("span", { class: `badge phase phase-${e.to_phase}` }, `${e.to_phase}${share}`),
        " by ", el("span", { class: automatic ? "actor watchdog" : "actor" }, e.actor)),
      el("p", { class: "reason" }, e.reason),
      details);
  }

  // ---- the loop ---------------------------------------------------------------------------

  function render(data) {
    const m = data.migration;
    renderHeader(data);
    renderMigration(m);
    renderBackfill(m);
    renderJudgement(m, data.eval_runs);
    renderGuardrails(m);
    renderSlices(m);
    renderIndexes(data.indexes, m);
    renderPlot(data.eval_runs, m);
    renderTimeline(data.events);
  }

  async function refresh() {
    try {
      const response = await fetch("ui/status.json", { cache: "no-store", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      document.body.dataset.state = "ready";
    } catch (error) {
      document.body.dataset.state = "error";
      document.getElementById("updated").textContent = `cannot reach the server (${error.message}); retrying`;
    } finally {
      setTimeout(refresh, POLL_MS);
    }
  }

  refresh();
})();
