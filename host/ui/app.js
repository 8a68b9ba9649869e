// meshroom ui: the page. Plain JS over the JSON API (/api/...) and the run
// events (/api/events, server-sent events). Read-only: it only GETs.
// Everything from the server is written with textContent, never as HTML.
"use strict";

const LARGE = 400; // plugs past which edges are drawn the fast way (haystack, no labels)
const COLORS = { up: "#2e7d32", down: "#9e9e9e", failed: "#c62828", drifted: "#ef6c00", running: "#1565c0" };

const page = {
  mesh: null,          // the last /api/mesh answer
  plugs: new Map(),    // plug id -> plug (from /api/mesh, updated by events)
  cy: null,
  capCy: null,
  selected: null,      // plug id shown in the details panel
  capLoaded: false,
  pick: [],            // products clicked in the capabilities view
};
window.meshroom = page;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 8000);
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  let body;
  try { body = await r.json(); } catch (_) { body = {}; }
  if (!r.ok) throw new Error(body.error || `${path}: HTTP ${r.status}`);
  return body;
}

// ------------------------------------------------------------------ mesh

function edgeId(plugId) { return "plug:" + plugId; }

function meshElements(mesh) {
  const els = [];
  for (const p of mesh.products) {
    if (p.instances > 0) els.push({ group: "nodes", data: { id: "product:" + p.name, label: p.name, kind: "product" } });
  }
  for (const i of mesh.instances) {
    els.push({ group: "nodes", data: { id: "instance:" + i.id, label: i.id, kind: "instance", product: i.product, parent: "product:" + i.product } });
  }
  for (const p of mesh.plugs) {
    els.push({
      group: "edges",
      data: { id: edgeId(p.id), plug: p.id, source: "instance:" + p.src, target: "instance:" + p.dst, label: p.label, state: p.state, running: p.running ? "yes" : "no", trigger: p.trigger ? "yes" : "no" },
    });
  }
  return els;
}

function meshStyle(large) {
  return [
    { selector: "node[kind = 'instance']", style: {
      "background-color": "#4a6fa5", label: "data(label)", "font-size": 10, color: "#1d232b",
      "text-valign": "bottom", "text-margin-y": 3, width: 14, height: 14, "min-zoomed-font-size": large ? 16 : 0 } },
    { selector: "node[kind = 'product']", style: {
      "background-color": "#eef3fb", "border-color": "#9fb3cf", "border-width": 1, shape: "round-rectangle",
      label: "data(label)", "font-size": 11, "font-weight": "bold", color: "#2f4258", "text-valign": "top", "text-halign": "center",
      padding: 8, "min-zoomed-font-size": large ? 14 : 0 } },
    { selector: "edge", style: {
      width: large ? 1 : 2.5, "line-color": COLORS.down, "target-arrow-color": COLORS.down, "curve-style": large ? "haystack" : "bezier",
      "haystack-radius": 0, opacity: large ? 0.55 : 1,
      "target-arrow-shape": large ? "none" : "triangle", "arrow-scale": 0.9,
      label: large ? "" : "data(label)", "font-size": 9, "text-rotation": "autorotate", "text-background-color": "#fff",
      "text-background-opacity": 0.85, "text-background-padding": 1 } },
    ...Object.entries(COLORS).map(([state, color]) => ({
      selector: `edge[state = '${state}']`, style: { "line-color": color, "target-arrow-color": color, color },
    })),
    { selector: "edge[trigger = 'yes']", style: { "line-style": "dashed" } },
    { selector: "edge[running = 'yes']", style: { "line-color": COLORS.running, "target-arrow-color": COLORS.running, "line-style": "dotted", width: large ? 2 : 4, opacity: 1 } },
    { selector: "edge:selected", style: { width: large ? 4 : 5, opacity: 1, "overlay-opacity": 0.15, "overlay-color": "#1565c0", "z-index": 10 } },
    { selector: ".hidden", style: { display: "none" } },
  ];
}

async function loadMesh() {
  const started = performance.now();
  const mesh = await api("/api/mesh");
  page.mesh = mesh;
  page.plugs = new Map(mesh.plugs.map(p => [p.id, p]));
  fillFilters(mesh);
  const large = mesh.plugs.length > LARGE;
  if (page.cy) page.cy.destroy();
  const cy = cytoscape({
    container: $("cy"),
    elements: meshElements(mesh),
    style: meshStyle(large),
    minZoom: 0.05,
    maxZoom: 4,
    wheelSensitivity: 0.3,
    hideEdgesOnViewport: large,
    textureOnViewport: large,
    pixelRatio: large ? 1 : "auto",
    boxSelectionEnabled: false,
    autoungrabify: large,
  });
  page.cy = cy;
  cy.on("tap", "edge", e => selectPlug(e.target.data("plug")));
  cy.on("tap", "node[kind = 'instance']", e => { $("search").value = e.target.data("label"); applyFilters(); });
  await new Promise(resolve => {
    const layout = cy.layout({
      name: mesh.instances.length > 1 ? "fcose" : "grid",
      quality: large ? "draft" : "default",
      randomize: true,
      animate: false,
      nodeDimensionsIncludeLabels: !large,
      idealEdgeLength: large ? 40 : 120,
      nodeRepulsion: large ? 2500 : 9000,
      // On a large mesh: greedy sampling and no packing of components
      // (measured: 0.5 s against 1.5 s for the spectral draft of 3,000 plugs).
      packComponents: !large,
      samplingType: !large,
      fit: true,
      padding: 30,
    });
    layout.one("layoutstop", resolve);
    layout.run();
  });
  applyFilters();
  renderRuns(mesh.runs);
  page.meshMs = performance.now() - started;
  // Since navigation started: what the bench reads as time to interactive.
  page.interactiveMs = performance.now();
  document.body.dataset.ready = "mesh";
  window.meshroomReady = true;
}

function fillFilters(mesh) {
  const fill = (select, values) => {
    const keep = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const v of values) select.add(new Option(v, v));
    if (values.includes(keep)) select.value = keep;
  };
  fill($("filter-product"), mesh.products.filter(p => p.instances > 0).map(p => p.name));
  fill($("filter-topic"), [...new Set(mesh.plugs.map(p => p.topic))].sort());
}

function plugMatches(p, f) {
  if (f.state && p.state !== f.state) return false;
  if (f.topic && p.topic !== f.topic) return false;
  if (f.product) {
    const sp = page.instanceProduct.get(p.src), dp = page.instanceProduct.get(p.dst);
    if (sp !== f.product && dp !== f.product) return false;
  }
  if (f.q && !p.id.toLowerCase().includes(f.q)) return false;
  return true;
}

function currentFilter() {
  return {
    q: $("search").value.trim().toLowerCase(),
    product: $("filter-product").value,
    topic: $("filter-topic").value,
    state: $("filter-state").value,
  };
}

function applyFilters() {
  const cy = page.cy;
  if (!cy || !page.mesh) return;
  page.instanceProduct = new Map(page.mesh.instances.map(i => [i.id, i.product]));
  const f = currentFilter();
  const filtering = f.q || f.product || f.topic || f.state;
  const shown = [];
  const touched = new Set();
  cy.batch(() => {
    for (const p of page.plugs.values()) {
      const ok = plugMatches(p, f);
      const edge = cy.getElementById(edgeId(p.id));
      if (ok) { shown.push(p); touched.add(p.src); touched.add(p.dst); }
      edge.toggleClass("hidden", !ok);
    }
    for (const i of page.mesh.instances) {
      const n = cy.getElementById("instance:" + i.id);
      const named = f.q && i.id.toLowerCase().includes(f.q);
      const productOk = !f.product || i.product === f.product;
      const visible = !filtering || touched.has(i.id) || (named && productOk) || (!f.q && !f.topic && !f.state && productOk);
      n.toggleClass("hidden", !visible);
    }
    cy.nodes("[kind = 'product']").forEach(n => {
      n.toggleClass("hidden", n.children().not(".hidden").length === 0);
    });
  });
  $("counts").textContent = `${page.mesh.instances.length} instances, ${shown.length} of ${page.plugs.size} plugs shown`;
  renderPlugList(shown);
}

function renderPlugList(shown) {
  const list = $("plug-list");
  list.replaceChildren();
  const max = 200;
  for (const p of shown.slice(0, max)) {
    const li = el("li", { class: p.state + (p.id === page.selected ? " selected" : ""), title: p.id, "data-plug": p.id }, p.id);
    li.addEventListener("click", () => selectPlug(p.id));
    list.append(li);
  }
  if (shown.length > max) list.append(el("li", { class: "more" }, `… ${shown.length - max} more: filter or search`));
}

async function selectPlug(id) {
  page.selected = id;
  const cy = page.cy;
  if (cy) {
    cy.edges(":selected").unselect();
    const e = cy.getElementById(edgeId(id));
    if (e.nonempty()) e.select();
  }
  for (const li of document.querySelectorAll("#plug-list li")) li.classList.toggle("selected", li.dataset.plug === id);
  const panel = $("plug-details");
  try {
    const plug = await api("/api/plug?id=" + encodeURIComponent(id));
    if (page.selected === id) renderPlug(plug);
  } catch (e) {
    panel.replaceChildren(el("p", { class: "error-text" }, e.message));
  }
}

function renderPlan(name, plan) {
  if (!plan) return null;
  const box = el("div", { class: "plan" }, el("h3", {}, name));
  if (plan.error) box.append(el("p", { class: "error-text" }, "would fail: " + plan.error));
  if (plan.skip) box.append(el("p", { class: "hint" }, "skip: " + plan.skip));
  if (plan.steps && plan.steps.length) {
    const ol = el("ol", { class: "steps" });
    for (const s of plan.steps) ol.append(el("li", {}, `${s.hook} on ${s.instance} (${s.product}, ${s.side} side): ${s.title}`));
    box.append(ol);
  }
  return box;
}

function renderPlug(p) {
  const panel = $("plug-details");
  const dl = el("dl", {},
    el("dt", {}, "from"), el("dd", {}, `${p.src} (${p.src_product})`),
    el("dt", {}, "to"), el("dd", {}, `${p.dst} (${p.dst_product})`),
    el("dt", {}, "topic"), el("dd", { id: "plug-topic" }, p.topic),
    el("dt", {}, "mode"), el("dd", { id: "plug-mode" }, p.mode),
    el("dt", {}, "format"), el("dd", { id: "plug-format" }, p.format || "any"),
    el("dt", {}, "kind"), el("dd", {}, p.trigger ? "trigger → executor" : "producer → consumer"),
    el("dt", {}, "owner"), el("dd", {}, p.owner || "—"),
    el("dt", {}, "state"), el("dd", {}, el("span", { id: "plug-state", class: "state " + p.state }, p.state), p.running ? ` (${p.running} running${p.step ? ": " + p.step : ""})` : ""),
  );
  const outputs = el("ul", { id: "plug-outputs" });
  for (const o of p.outputs) {
    outputs.append(el("li", {}, el("code", {}, o.name), o.value === undefined ? " (secret: name only)" : " = " + JSON.stringify(o.value)));
  }
  if (!p.outputs.length) outputs.append(el("li", { class: "hint" }, "none recorded"));
  panel.replaceChildren(
    el("h2", {}, p.id),
    dl,
    p.drift ? el("p", { class: "error-text", id: "plug-drift" }, "drifted: " + p.drift) : null,
    el("h3", {}, "last error"),
    el("p", { id: "plug-error", class: p.last_error ? "error-text" : "hint" }, p.last_error || "none"),
    el("h3", {}, "recorded outputs"),
    outputs,
    renderPlan("hooks plan would run (up)", p.plan.up),
    renderPlan("down", p.plan.down),
    renderPlan("check", p.plan.check),
  );
}

// ------------------------------------------------------------------ live runs

function log(text) {
  const ol = $("live-log");
  ol.append(el("li", {}, `${new Date().toLocaleTimeString()} ${text}`));
  while (ol.children.length > 200) ol.firstChild.remove();
  ol.scrollTop = ol.scrollHeight;
}

function renderRuns(runs) {
  const active = (runs || []).filter(r => !r.done);
  $("run-status").textContent = active.map(r => `${r.action} running (pid ${r.pid}): ${r.finished_plugs}/${r.plugs} plugs`).join(" · ");
}

function setPlugState(id, patch) {
  const p = page.plugs.get(id);
  if (!p) return;
  Object.assign(p, patch);
  const e = page.cy && page.cy.getElementById(edgeId(id));
  if (e && e.nonempty()) e.data({ state: p.state, running: p.running ? "yes" : "no" });
  const li = document.querySelector(`#plug-list li[data-plug="${CSS.escape(id)}"]`);
  if (li) li.className = p.state + (id === page.selected ? " selected" : "");
  if (id === page.selected) selectPlug(id);
}

const runs = [];
function onEvent(kind, ev) {
  switch (kind) {
    case "run_started":
      runs.push({ action: ev.action, pid: ev.pid, plugs: ev.plugs, finished_plugs: 0, done: false });
      log(`${ev.action} started (pid ${ev.pid}, ${ev.plugs} plugs)`);
      break;
    case "plug_started":
      setPlugState(ev.plug, { running: ev.action });
      break;
    case "step_started":
      log(`${ev.plug}: ${ev.hook} on ${ev.instance}…`);
      break;
    case "step_finished":
      log(`${ev.plug}: ${ev.hook} ${ev.ok ? "ok" : "failed"}${ev.check ? " (" + ev.check + ")" : ""}`);
      break;
    case "plug_finished": {
      const p = page.plugs.get(ev.plug);
      let state = ev.state;
      if (ev.action === "check") state = ev.verdict === "drifted" ? "drifted" : (ev.verdict === "done" ? ev.state : (p ? p.state : ev.state));
      setPlugState(ev.plug, { running: null, state });
      const run = runs.slice().reverse().find(r => !r.done);
      if (run) run.finished_plugs += 1;
      log(`${ev.plug}: ${ev.verdict}${ev.message ? " — " + ev.message : ""}`);
      break;
    }
    case "run_finished": {
      const run = runs.slice().reverse().find(r => !r.done && r.action === ev.action);
      if (run) run.done = true;
      log(`${ev.action} finished${ev.interrupted ? " (interrupted)" : ""}`);
      applyFilters();
      break;
    }
  }
  renderRuns(runs);
}

function connectEvents() {
  const status = $("stream-status");
  const es = new EventSource("/api/events");
  page.events = es;
  es.onopen = () => { status.textContent = "● live"; status.classList.add("on"); };
  es.onerror = () => { status.textContent = "○ live (reconnecting)"; status.classList.remove("on"); };
  for (const kind of ["run_started", "plug_started", "step_started", "step_finished", "plug_finished", "run_finished"]) {
    es.addEventListener(kind, m => {
      try { onEvent(kind, JSON.parse(m.data)); } catch (e) { console.error(e); }
    });
  }
  es.addEventListener("lagged", () => { log("missed some events: reloading the mesh"); loadMesh().catch(e => showError(e.message)); });
}

// ------------------------------------------------------------------ capabilities

async function loadCapabilities() {
  const g = await api("/api/capabilities");
  const names = g.nodes.map(n => n.id);
  for (const id of ["explain-src", "explain-dst"]) {
    const s = $(id);
    s.replaceChildren(...names.map(n => new Option(n, n)));
  }
  if (names.length > 1) $("explain-dst").value = names[1];
  if (page.capCy) page.capCy.destroy();
  const large = g.edges.length > LARGE;
  const cy = cytoscape({
    container: $("cycap"),
    elements: [
      ...g.nodes.map(n => ({ group: "nodes", data: { id: n.id, label: n.label, tag: n.group } })),
      ...g.edges.map((e, i) => ({ group: "edges", data: { id: "cap" + i, source: e.from, target: e.to, label: e.label, trigger: e.trigger ? "yes" : "no" } })),
    ],
    style: [
      { selector: "node", style: { "background-color": "#4a6fa5", label: "data(label)", "font-size": 12, "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22 } },
      { selector: "node.picked", style: { "background-color": "#ef6c00", "border-width": 3, "border-color": "#ffd08a" } },
      { selector: "edge", style: { width: 2, "line-color": "#7d93b2", "target-arrow-color": "#7d93b2", "target-arrow-shape": "triangle", "curve-style": large ? "haystack" : "bezier", label: large ? "" : "data(label)", "font-size": 9, "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 0.85 } },
      { selector: "edge[trigger = 'yes']", style: { "line-style": "dashed" } },
    ],
    hideEdgesOnViewport: large,
    boxSelectionEnabled: false,
  });
  page.capCy = cy;
  cy.on("tap", "node", e => {
    page.pick.push(e.target.id());
    if (page.pick.length > 2) page.pick.shift();
    cy.nodes().removeClass("picked");
    for (const id of page.pick) cy.getElementById(id).addClass("picked");
    if (page.pick.length === 2) {
      $("explain-src").value = page.pick[0];
      $("explain-dst").value = page.pick[1];
      explain();
    }
  });
  cy.layout({ name: g.nodes.length > 1 ? "fcose" : "grid", quality: large ? "draft" : "default", animate: false, randomize: true, idealEdgeLength: 160, nodeRepulsion: 12000, padding: 40 }).run();
  page.capLoaded = true;
  document.body.dataset.capabilities = "ready";
}

async function explain() {
  const src = $("explain-src").value, dst = $("explain-dst").value, topic = $("explain-topic").value.trim();
  const panel = $("explain");
  let q = `/api/explain?src=${encodeURIComponent(src)}&dst=${encodeURIComponent(dst)}`;
  if (topic) q += `&topic=${encodeURIComponent(topic)}`;
  try {
    const r = await api(q);
    const out = [el("h2", {}, `${r.src} → ${r.dst}`)];
    if (!r.topics.length) out.push(el("p", { class: "hint" }, "these products declare no topic"));
    for (const t of r.topics) {
      const box = el("div", { class: "topic" }, el("h3", {}, t.topic, " ", t.pluggable ? el("span", { class: "ok" }, "pluggable") : el("span", { class: "no" }, "cannot be plugged")));
      if (t.pluggable) box.append(el("p", {}, `set up by ${t.setup_by}: ${t.source} ↔ ${t.destination}`));
      else box.append(el("pre", { class: "why-not" }, t.why_not));
      out.push(box);
    }
    panel.replaceChildren(...out);
    panel.dataset.explained = `${src}->${dst}`;
  } catch (e) {
    panel.replaceChildren(el("p", { class: "error-text" }, e.message));
  }
}

// ------------------------------------------------------------------ wiring

function showView(view) {
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === view);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === "view-" + view);
  if (view === "capabilities" && !page.capLoaded) loadCapabilities().catch(e => showError(e.message));
  if (view === "capabilities" && page.capCy) page.capCy.resize();
  if (view === "mesh" && page.cy) page.cy.resize();
}

function start() {
  cytoscape.use(cytoscapeFcose);
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showView(b.dataset.view));
  let timer = null;
  $("search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(applyFilters, 120); });
  for (const id of ["filter-product", "filter-topic", "filter-state"]) $(id).addEventListener("change", applyFilters);
  $("explain-go").addEventListener("click", explain);
  connectEvents();
  loadMesh().catch(e => showError(e.message));
}

document.addEventListener("DOMContentLoaded", start);
