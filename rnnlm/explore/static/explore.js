// rnnlm explore: the page. Plain JavaScript, no libraries. With a server it calls the JSON API
// (rnnlm/explore/server.py); in a self-contained file (rnnlm explore --html) window.EXPLORE_DATA holds the
// answers the server would have given, and the views draw from those.
"use strict";

const DATA = window.EXPLORE_DATA || null;
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
const state = { models: [], analyses: {}, text: "", target: null, unit: null, column: null };
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  if (DATA) {  // a saved page: the answers are inlined
    const key = path + (body && body.model ? ":" + body.model : "");
    if (path === "/api/models") return DATA.models;
    if (path === "/api/analyze") return DATA.analyses[body.model];
    if (path === "/api/generate" && DATA.generated && DATA.generated[body.model]) return DATA.generated[body.model];
    if (path === "/api/neighbours" && DATA.neighbours && DATA.neighbours[body.model]) return DATA.neighbours[body.model];
    throw new Error(key + " needs the server: run rnnlm explore");
  }
  const response = await fetch(path, body ? { method: "POST", headers: { "Content-Type": "application/json" },
                                                body: JSON.stringify(body) } : {});
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function status(message, error) {
  const el = $("status");
  el.textContent = message;
  el.className = error ? "error" : "";
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function selected() {
  return [...document.querySelectorAll("#models input:checked")].map((box) => box.value);
}

// ---- the tooltip -----------------------------------------------------------------------------------------

function showTip(event, html) {
  const tip = $("tooltip");
  tip.innerHTML = html;
  tip.hidden = false;
  const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  tip.style.left = x + "px";
  tip.style.top = (event.clientY + 16) + "px";
}

function hideTip() { $("tooltip").hidden = true; }

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

function topTable(top, chosen) {
  return "<table>" + top.map(([w, p]) => `<tr${w === chosen ? ' style="font-weight:bold"' : ""}><td>${escapeHtml(w)}</td>` +
    `<td>${p.toFixed(4)}</td></tr>`).join("") + "</table>";
}

// ---- reading the text -----------------------------------------------------------------------------------

async function readText() {
  const models = selected();
  state.text = $("text").value;
  if (!models.length) { status("choose a model", true); return; }
  status("reading ...");
  try {
    const topK = parseInt($("topk").value, 10) || 5;
    const answers = await Promise.all(models.map((model) => api("/api/analyze", { model, text: state.text, top_k: topK })));
    state.analyses = {};
    answers.forEach((a) => { state.analyses[a.model] = a; });
    state.target = null; state.unit = null; state.column = null;
    status("");
    drawPredictions(); fillCellControls(); drawCell(); drawGradientText(); drawGradients();
  } catch (err) { status(err.message, true); }
}

// ---- 1. predictions --------------------------------------------------------------------------------------

function shade(word, mode) {
  // probability: white (0) to green (1); surprisal: white (0 bits) to red (16 bits and more)
  if (mode === "bits") {
    const bits = -word.logprob / Math.LN2;
    const a = Math.min(bits / 16, 1);
    return `rgba(214, 39, 40, ${a.toFixed(3)})`;
  }
  const p = Math.exp(word.logprob);
  return `rgba(44, 160, 44, ${Math.pow(p, 0.5).toFixed(3)})`;
}

function drawPredictions() {
  const mode = document.querySelector("input[name=shade]:checked").value;
  const box = $("prediction-views");
  box.innerHTML = "";
  for (const [name, a] of Object.entries(state.analyses)) {
    const view = el("div", { class: "view", "data-model": name });
    view.append(el("h3", {}, name));
    const s = a.summary;
    view.append(el("div", { class: "summary" }, `log p = ${s.logprob.toFixed(3)} (natural log) over ${s.sentences} ` +
      `sentence(s), ${s.words} words, ${s.unknown} unknown; ppl ${s.ppl.toFixed(2)}, ppl1 ${s.ppl1.toFixed(2)}`));
    const text = el("div", { class: "text" });
    a.words.forEach((w, i) => {
      if (i && w.sentence !== a.words[i - 1].sentence) text.append(el("span", { class: "sep" }));
      const span = el("span", { class: "word" + (w.unknown ? " unknown" : ""), "data-p": Math.exp(w.logprob).toPrecision(8),
                                "data-logprob": w.logprob, "data-index": i }, w.token);
      span.style.background = shade(w, mode);
      span.addEventListener("mousemove", (e) => showTip(e,
        `<b>${escapeHtml(w.token)}</b>${w.unknown ? " (unknown: read as UNKNOWN_TOKEN)" : ""}<br>` +
        `p = ${Math.exp(w.logprob).toFixed(5)}, rank ${w.rank}, ${(-w.logprob / Math.LN2).toFixed(2)} bits` +
        topTable(w.top, w.unknown ? "UNKNOWN_TOKEN" : w.token)));
      span.addEventListener("mouseleave", hideTip);
      text.append(span);
    });
    view.append(text);
    box.append(view);
  }
}

// ---- 2. inside the cell -------------------------------------------------------------------------------------

function fillCellControls() {
  const modelBox = $("cell-model");
  modelBox.innerHTML = "";
  Object.keys(state.analyses).forEach((name) => modelBox.append(el("option", {}, name)));
  fillCellWhat();
}

function fillCellWhat() {
  const a = state.analyses[$("cell-model").value];
  const what = $("cell-what");
  what.innerHTML = "";
  if (!a) return;
  Object.keys(a.states).forEach((k) => what.append(el("option", { value: "states:" + k }, "state " + k)));
  Object.keys(a.gates).forEach((k) => what.append(el("option", { value: "gates:" + k }, "gate " + k)));
}

function cellMatrix() {
  const a = state.analyses[$("cell-model").value];
  if (!a) return null;
  const [kind, name] = $("cell-what").value.split(/:(.*)/s);
  return { a, rows: a[kind][name], gate: kind === "gates" };
}

function unitOrder(rows) {
  const order = rows.map((_, i) => i);
  const how = $("cell-sort").value;
  if (how === "variance") {
    const variance = rows.map((r) => { const m = r.reduce((s, v) => s + v, 0) / r.length;
      return r.reduce((s, v) => s + (v - m) * (v - m), 0) / r.length; });
    order.sort((i, j) => variance[j] - variance[i]);
  } else if (how === "word" && state.column !== null) {
    order.sort((i, j) => rows[j][state.column] - rows[i][state.column]);
  }
  return order;
}

function colour(v, gate) {
  // gates in [0, 1]: white to purple; states in [-1, 1]: blue (negative), white, red (positive)
  if (gate) return `rgb(${Math.round(255 - 138 * v)}, ${Math.round(255 - 181 * v)}, ${Math.round(255 - 75 * v)})`;
  const a = Math.max(-1, Math.min(1, v));
  return a >= 0 ? `rgb(255, ${Math.round(255 * (1 - a))}, ${Math.round(255 * (1 - a))})`
                : `rgb(${Math.round(255 * (1 + a))}, ${Math.round(255 * (1 + a))}, 255)`;
}

function drawCell() {
  const m = cellMatrix();
  const canvas = $("heatmap");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!m) return;
  const rows = m.rows, order = unitOrder(rows), T = rows[0].length;
  const cw = Math.max(2, Math.min(24, Math.floor(880 / T))), ch = Math.max(1, Math.min(8, Math.floor(600 / rows.length)));
  canvas.width = cw * T + 20; canvas.height = ch * rows.length + 4;
  order.forEach((unit, r) => rows[unit].forEach((v, t) => {
    ctx.fillStyle = colour(v, m.gate);
    ctx.fillRect(t * cw, r * ch, cw, ch);
  }));
  if (state.unit !== null) {
    const r = order.indexOf(state.unit);
    ctx.strokeStyle = "#000"; ctx.strokeRect(0, r * ch, cw * T, ch);
  }
  if (state.column !== null) { ctx.strokeStyle = "#000"; ctx.strokeRect(state.column * cw, 0, cw, ch * rows.length); }
  canvas.onclick = (e) => {
    const box = canvas.getBoundingClientRect();
    const t = Math.floor((e.clientX - box.left) * canvas.width / box.width / cw);
    const r = Math.floor((e.clientY - box.top) * canvas.height / box.height / ch);
    if (r >= 0 && r < rows.length) state.unit = order[r];
    if (t >= 0 && t < T) state.column = t;
    drawCell();
  };
  canvas.onmousemove = (e) => {
    const box = canvas.getBoundingClientRect();
    const t = Math.floor((e.clientX - box.left) * canvas.width / box.width / cw);
    const r = Math.floor((e.clientY - box.top) * canvas.height / box.height / ch);
    if (t < 0 || t >= T || r < 0 || r >= rows.length) return hideTip();
    showTip(e, `unit ${order[r]}, after reading <b>${escapeHtml(m.a.read[t].token)}</b>: ${rows[order[r]][t].toFixed(3)}`);
  };
  canvas.onmouseleave = hideTip;
  const text = $("unit-text");
  text.innerHTML = "";
  if (state.unit === null) { text.append(el("p", { class: "hint" }, "Click a row of the map to colour the text by that unit.")); return; }
  text.append(el("div", { class: "summary" }, `unit ${state.unit}, after reading each word:`));
  m.a.read.forEach((w, t) => {
    const span = el("span", { class: "word", "data-value": rows[state.unit][t] }, w.token);
    span.style.background = colour(rows[state.unit][t], m.gate);
    text.append(span);
  });
}

// ---- 3. gradients through time ------------------------------------------------------------------------------

function drawGradientText() {
  const box = $("gradient-text");
  box.innerHTML = "";
  const first = Object.values(state.analyses)[0];
  if (!first) return;
  first.words.forEach((w, i) => {
    const span = el("span", { class: "word" + (state.target === i ? " chosen" : ""), "data-index": i }, w.token);
    span.style.cursor = "pointer";
    span.addEventListener("click", () => { state.target = i; drawGradientText(); drawGradients(); });
    box.append(span);
  });
}

async function rowsFor(name, i) {
  const a = state.analyses[name], w = a.words[i];
  const block = a.gradients.find((g) => g.sentence === w.sentence);
  if (block) return { offset: block.offset, norms: block.norms[w.position - block.offset].slice(0, w.position - block.offset + 1) };
  const row = await api("/api/gradients", { model: name, text: state.text, position: w.position });
  return { offset: row.offset, norms: row.norms.slice(0, w.position - row.offset + 1) };
}

async function drawGradients() {
  const svg = $("gradient-chart");
  svg.innerHTML = "";
  if (state.target === null) return;
  const W = 900, H = 300, left = 60, bottom = 40;
  let curves;
  try {
    curves = await Promise.all(Object.keys(state.analyses).map(async (name) => ({ name, ...(await rowsFor(name, state.target)) })));
  } catch (err) { status(err.message, true); return; }
  const values = curves.flatMap((c) => c.norms).filter((v) => v > 0);
  if (!values.length) return;
  const lo = Math.floor(Math.log10(Math.min(...values))), hi = Math.ceil(Math.log10(Math.max(...values)));
  const T = Math.max(...curves.map((c) => c.norms.length));
  const x = (k) => left + (W - left - 20) * (T > 1 ? k / (T - 1) : 0.5);
  const y = (v) => (H - bottom) - (H - bottom - 20) * (Math.log10(Math.max(v, 10 ** lo)) - lo) / Math.max(hi - lo, 1);
  const NS = "http://www.w3.org/2000/svg";
  const add = (tag, attrs, text) => { const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); if (text !== undefined) n.textContent = text; svg.append(n); return n; };
  for (let e = lo; e <= hi; e++) {
    add("line", { x1: left, x2: W - 20, y1: y(10 ** e), y2: y(10 ** e), stroke: "#eee" });
    add("text", { x: 8, y: y(10 ** e) + 4, "font-size": 11 }, `1e${e}`);
  }
  const words = Object.values(state.analyses)[0];
  const target = words.words[state.target];
  const read = words.read.filter((r) => r.sentence === target.sentence);
  read.slice(0, T).forEach((r, k) => add("text", { x: x(k), y: H - bottom + 14, "font-size": 10, "text-anchor": "middle" }, r.token));
  add("text", { x: left, y: 14, "font-size": 12 }, `|d log p(${target.token}) / d h_k| for each word k read before it (log scale)`);
  curves.forEach((c, m) => {
    const colour = COLOURS[m % COLOURS.length];
    add("polyline", { points: c.norms.map((v, k) => `${x(k)},${y(v)}`).join(" "), fill: "none", stroke: colour, "stroke-width": 2,
                      class: "gradient-curve", "data-model": c.name });
    c.norms.forEach((v, k) => add("circle", { cx: x(k), cy: y(v), r: 3, fill: colour }));
    add("text", { x: W - 200, y: 30 + 16 * m, fill: colour, "font-size": 12 }, c.name);
  });
  // the same norms under the text, as bars: the first model's
  const first = curves[0];
  document.querySelectorAll("#gradient-text .word").forEach((span) => { span.style.boxShadow = ""; });
  first.norms.forEach((v, k) => {
    const idx = words.words.findIndex((w) => w.position === first.offset + k);
    const span = document.querySelector(`#gradient-text .word[data-index="${idx}"]`);
    const strength = (Math.log10(Math.max(v, 10 ** lo)) - lo) / Math.max(hi - lo, 1);
    if (span) span.style.boxShadow = `inset 0 -${Math.round(2 + 10 * strength)}px 0 ${COLOURS[0]}55`;
  });
}

// ---- 4. generate -------------------------------------------------------------------------------------------

async function generate() {
  const out = $("gen-out");
  out.innerHTML = "";
  const number = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const body = { model: $("gen-model").value, prefix: $("gen-prefix").value, method: $("gen-method").value,
                 temperature: number("gen-temperature"), top_k: number("gen-topk"), top_p: number("gen-topp"),
                 beam_width: number("gen-beam") };
  try {
    const g = await api("/api/generate", body);
    g.prefix.forEach((w) => out.append(el("span", { class: "word" }, w)));
    g.words.forEach((w) => {
      const span = el("span", { class: "word generated", "data-p": w.p }, w.token);
      span.style.background = `rgba(31, 119, 180, ${Math.sqrt(w.p).toFixed(3)})`;
      span.addEventListener("mousemove", (e) => showTip(e, `chosen with p = ${w.p.toFixed(4)} from:` + topTable(w.top, w.token)));
      span.addEventListener("mouseleave", hideTip);
      out.append(span);
    });
  } catch (err) { out.append(el("p", { class: "error" }, err.message)); }
}

// ---- 5. neighbours ----------------------------------------------------------------------------------------

async function findNeighbours() {
  const out = $("nb-out");
  out.innerHTML = "";
  for (const model of selected()) {
    const view = el("div", { class: "view" });
    view.append(el("h3", {}, model));
    try {
      const n = await api("/api/neighbours", { model, word: $("nb-word").value, k: parseInt($("nb-k").value, 10) || 10 });
      const list = el("ol");
      n.neighbours.forEach(([w, s]) => list.append(el("li", {}, `${w}  (${s.toFixed(3)})`)));
      view.append(list);
    } catch (err) { view.append(el("p", { class: "error" }, err.message)); }
    out.append(view);
  }
}

// ---- start -------------------------------------------------------------------------------------------------

async function start() {
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("#tabs button, .tab").forEach((n) => n.classList.remove("active"));
    b.classList.add("active"); $(b.dataset.tab).classList.add("active");
  }));
  document.querySelectorAll("input[name=shade]").forEach((r) => r.addEventListener("change", drawPredictions));
  $("cell-model").addEventListener("change", () => { fillCellWhat(); state.unit = null; drawCell(); });
  $("cell-what").addEventListener("change", drawCell);
  $("cell-sort").addEventListener("change", drawCell);
  $("read").addEventListener("click", readText);
  $("gen-go").addEventListener("click", generate);
  $("nb-go").addEventListener("click", findNeighbours);
  try {
    const listing = await api("/api/models");
    state.models = listing.models;
    state.models.forEach((m, i) => {
      const label = el("label");
      const box = el("input", { type: "checkbox", value: m.name });
      box.checked = true;
      label.append(box, ` ${m.name} (${m.model_type}, ${m.layers} x ${m.hidden_dim})`);
      label.style.color = COLOURS[i % COLOURS.length];
      $("models").append(label);
      $("gen-model").append(el("option", {}, m.name));
    });
    if (DATA) { $("text").value = DATA.text; $("read").textContent = "Show"; }
    await readText();
    if (DATA && DATA.what) { $("cell-what").value = DATA.what; drawCell(); }
    if (DATA && DATA.target !== null && DATA.target !== undefined) {
      const words = Object.values(state.analyses)[0].words;
      state.target = DATA.target < 0 ? words.length + DATA.target : DATA.target;
      drawGradientText(); drawGradients();
    }
    if (DATA && DATA.view) document.querySelector(`#tabs button[data-tab=${DATA.view}]`).click();
  } catch (err) { status(err.message, true); }
}

start();
