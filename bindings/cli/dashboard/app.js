// The hworker dashboard: reads /api/ JSON and renders it with DOM calls and
// textContent alone (never HTML from data), so a payload is shown, never run.
"use strict";

const PARTS = ["pending", "scheduled", "inflight", "failed", "broken"];
const PAGE = 50;
const REFRESH_MS = 5000;
const state = { actions: false, timer: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function say(text, kind) {
  const s = document.getElementById("status");
  s.textContent = text || "";
  s.className = kind || "";
}

function token() { return sessionStorage.getItem("hworker-token") || ""; }

async function api(path, params) {
  const q = new URLSearchParams(params || {}).toString();
  const res = await fetch("/api/" + path + (q ? "?" + q : ""), { headers: { Accept: "application/json" } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

async function act(body, then) {
  try {
    const res = await fetch("/api/action", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Hworker-Token": token() },
      body: JSON.stringify(body),
    });
    const reply = await res.json();
    if (!res.ok) throw new Error(reply.error || res.statusText);
    say(reply.message, "ok");
  } catch (e) {
    say(e.message, "error");
  }
  if (then) then();
}

function when(ms) {
  if (!ms || ms < 0) return "";
  const d = new Date(ms);
  // Redis may hold any number: one out of Date's range is shown as it is.
  if (isNaN(d.getTime())) return String(ms);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function duration(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  if (ms < 7200000) return Math.round(ms / 60000) + " min";
  return (ms / 3600000).toFixed(1) + " h";
}

function actionButton(label, body, then) {
  return el("button", { type: "button", data: { action: body.action }, disabled: state.actions ? null : "",
    title: state.actions ? label : "read-only: actions need the token",
    onclick: (ev) => { ev.stopPropagation(); act(body, then); } }, label);
}

// Bars of processed (and, over them, failed) jobs per minute, in SVG.
function graph(buckets) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "graph");
  svg.setAttribute("viewBox", "0 0 600 100");
  svg.setAttribute("preserveAspectRatio", "none");
  const most = Math.max(1, ...buckets.map((b) => b.processed));
  const w = 600 / Math.max(1, buckets.length);
  buckets.forEach((b, i) => {
    for (const [cls, n] of [["processed", b.processed], ["failed", b.failed]]) {
      if (!n) continue;
      const r = document.createElementNS(ns, "rect");
      const h = (n / most) * 98;
      r.setAttribute("class", cls);
      r.setAttribute("x", String(i * w));
      r.setAttribute("y", String(100 - h));
      r.setAttribute("width", String(Math.max(1, w - 1)));
      r.setAttribute("height", String(h));
      const t = document.createElementNS(ns, "title");
      t.textContent = when(b.start_ms) + ": " + n + " " + cls;
      r.append(t);
      svg.append(r);
    }
  });
  const total = buckets.reduce((a, b) => a + b.processed, 0);
  const failed = buckets.reduce((a, b) => a + b.failed, 0);
  return el("div", {}, svg, el("div", { class: "legend" },
    el("span", { class: "processed" }, "processed " + total),
    el("span", { class: "failed" }, "failed " + failed), el("span", { class: "muted" }, "last hour, per minute")));
}

function queueLink(name) {
  return el("a", { href: "#/queue/" + encodeURIComponent(name) + "/pending" }, name);
}

async function overview(view) {
  const [data, history] = await Promise.all([api("overview"), api("history")]);
  const rows = data.queues.map((q) => q.error
    ? el("tr", { data: { queue: q.name } }, el("td", {}, queueLink(q.name)), el("td", { colspan: "9" }, q.error))
    : el("tr", { data: { queue: q.name } },
      el("td", {}, queueLink(q.name)),
      ...["pending", "scheduled", "inflight", "failed", "broken"].map((k) =>
        el("td", { class: "num " + k }, q[k])),
      el("td", { class: "num latency" }, duration(q.latency_ms)),
      el("td", { class: q.paused ? "paused" : "" }, q.paused ? "paused" : "running"),
      el("td", {}, actionButton(q.paused ? "Resume" : "Pause",
        { queue: q.name, action: q.paused ? "resume" : "pause" }, route))));
  view.replaceChildren(
    el("h1", {}, "Queues"),
    el("table", { id: "queues" },
      el("thead", {}, el("tr", {}, el("th", {}, "queue"),
        ...["pending", "scheduled", "in flight", "failed", "broken", "latency"].map((h) =>
          el("th", { class: "num" }, h)), el("th", {}, "state"), el("th", {}, ""))),
      el("tbody", {}, ...rows)),
    rows.length ? null : el("p", { class: "muted" }, "No queue is registered yet: enqueue a job or start workers."),
    el("h2", {}, "Throughput, every queue"), graph(history.buckets));
}

function jobRow(queue, part, job, detail, refresh) {
  const actions = [];
  if (part === "failed" || part === "broken") {
    actions.push(actionButton("Requeue", { queue, action: "requeue", part, id: job.id || job.record }, refresh));
    actions.push(actionButton("Delete", { queue, action: "delete", part, id: job.id || job.record }, refresh));
  } else {
    if (part !== "inflight") {
      actions.push(actionButton("Run now", { queue, action: "run_now", id: job.id }, refresh));
      actions.push(actionButton("Delete", { queue, action: "delete", id: job.id }, refresh));
    }
    actions.push(actionButton("Cancel", { queue, action: "cancel", id: job.id }, refresh));
  }
  // In flight: its worker, and whether it runs or waits in the worker's
  // batch (a job reads as claimed until its process's next beat).
  const note = part === "inflight"
    ? (job.holder || "") + (job.started_at >= 0 ? ", running since " + when(job.started_at) : ", claimed")
    : (job.reason || "");
  return el("tr", { class: "job", data: { id: job.id || "" }, onclick: () => showWhole(detail, queue, job) },
    el("td", { class: "id" }, job.id || "(unreadable)"),
    el("td", { class: "num" }, job.attempt),
    el("td", {}, when(job.enqueued_at)),
    el("td", {}, when(job.time)),
    el("td", { class: "note" }, note),
    el("td", {}, ...actions));
}

// A listing cuts big payloads short; find gives the job whole.
async function showWhole(detail, queue, job) {
  if (job.truncated && job.id) {
    try {
      const found = await api("find", { queue, id: job.id });
      const same = found.jobs.find((j) => j.part === job.part) || found.jobs[0];
      if (same) job = same;
    } catch (e) { say(e.message, "error"); }
  }
  showJob(detail, job);
}

function showJob(detail, job) {
  let text = job.job;
  try { text = JSON.stringify(JSON.parse(job.job), null, 2); } catch (e) { /* shown as stored */ }
  detail.replaceChildren(el("h2", {}, "Job " + (job.id || "") + " (" + job.part + ")"),
    job.truncated ? el("p", { class: "muted" }, "the first 4 KiB of " + job.size + " bytes") : null,
    el("pre", { class: "job-json" }, text));
}

async function queuePage(view, name, part, offset) {
  const refresh = () => route();
  const [ov, history, list] = await Promise.all([api("overview"), api("history", { queue: name }),
    api("jobs", { queue: name, part, offset, limit: PAGE })]);
  const q = ov.queues.find((x) => x.name === name) || {};
  const detail = el("div", { id: "detail" });
  const tabs = el("p", { class: "tabs" }, ...PARTS.map((p) => el("a", {
    href: "#/queue/" + encodeURIComponent(name) + "/" + p, class: p === part ? "current" : "",
  }, p + " (" + (q[p] === undefined ? "?" : q[p]) + ")")));
  const findInput = el("input", { id: "find-id", placeholder: "job id", size: "30" });
  const find = el("form", { class: "inline", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const found = await api("find", { queue: name, id: findInput.value });
      if (!found.jobs.length) say("no job " + findInput.value + " in the newest " + found.depth + " of each list", "error");
      else { say("found in " + found.jobs.map((j) => j.part).join(", "), "ok"); showJob(detail, found.jobs[0]); }
    } catch (e) { say(e.message, "error"); }
  } }, findInput, el("button", { type: "submit" }, "Find"));
  const base = "#/queue/" + encodeURIComponent(name) + "/" + part + "/";
  const pager = el("p", {},
    offset > 0 ? el("a", { href: base + Math.max(0, offset - PAGE) }, "newer") : null, " ",
    el("span", { class: "muted" }, list.total ? (offset + 1) + "–" + (offset + list.jobs.length) + " of " + list.total
      : "empty"), " ",
    offset + PAGE < list.total ? el("a", { href: base + (offset + PAGE) }, "older") : null);
  view.replaceChildren(
    el("h1", {}, "Queue ", el("span", { id: "queue-name" }, name), " ",
      el("span", { class: q.paused ? "paused" : "muted" }, q.paused ? "paused" : "running"), " ",
      actionButton(q.paused ? "Resume" : "Pause", { queue: name, action: q.paused ? "resume" : "pause" }, refresh)),
    el("p", { class: "muted" }, "latency " + duration(q.latency_ms || 0) + ", shards " + (q.shards || 1)),
    graph(history.buckets), tabs, find, pager,
    el("table", { id: "jobs", data: { part } },
      el("thead", {}, el("tr", {}, ...["id", "attempt", "enqueued", part === "inflight" ? "lease ends"
        : part === "scheduled" ? "due" : "at", part === "inflight" ? "worker" : "reason", ""].map((h) =>
        el("th", {}, h)))),
      el("tbody", {}, ...list.jobs.map((j) => jobRow(name, part, j, detail, refresh)))),
    detail);
}

async function processesPage(view) {
  const data = await api("processes");
  view.replaceChildren(el("h1", {}, "Processes"),
    el("table", { id: "processes" },
      el("thead", {}, el("tr", {}, ...["process", "queue", "threads", "busy", "version", "started", "last beat",
        "job file"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...data.processes.map((p) => el("tr", {},
        el("td", {}, p.id), el("td", {}, queueLink(p.queue)), el("td", { class: "num" }, p.threads),
        el("td", { class: "num" }, p.busy), el("td", {}, p.version), el("td", {}, when(p.started_at)),
        el("td", {}, when(p.beat_at)), el("td", {}, p.job_file || ""))))),
    data.processes.length ? null : el("p", { class: "muted" }, "No process with workers is running."));
}

async function route() {
  clearTimeout(state.timer);
  const view = document.getElementById("view");
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  try {
    if (parts[0] === "queue" && parts[1]) {
      const part = PARTS.includes(parts[2]) ? parts[2] : "pending";
      await queuePage(view, decodeURIComponent(parts[1]), part, Math.max(0, parseInt(parts[3] || "0", 10) || 0));
    } else if (parts[0] === "processes") {
      await processesPage(view);
      state.timer = setTimeout(route, REFRESH_MS);
    } else {
      await overview(view);
      state.timer = setTimeout(route, REFRESH_MS);
    }
  } catch (e) {
    say(e.message, "error");
  }
}

async function start() {
  try {
    const ov = await api("overview");
    state.actions = ov.actions;
    document.getElementById("mode").textContent = "hworker " + ov.version +
      (ov.actions ? " · actions need the token" : " · read-only");
    const form = document.getElementById("token-form");
    form.hidden = !ov.actions;
    document.getElementById("token").value = token();
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem("hworker-token", document.getElementById("token").value);
      say("token set for this tab", "ok");
    });
  } catch (e) {
    say(e.message, "error");
  }
  // A message belongs to the page it was said on.
  window.addEventListener("hashchange", () => { say(""); route(); });
  route();
}

start();
