// The Flyray console's one script: the graph (SVG under 500 nodes, canvas above, with a
// DOM node list beside it), the timeline, the node tree, the node panel, and one store of
// node phases fed by the execution's change feed (server-sent events, else polling), so
// every view shows the same phase. Geometry and bars are computed on the server.
// `mountGraph(el)` serves other pages too: every [data-geometry-url] is mounted.

const NS = "http://www.w3.org/2000/svg";
const CANVAS_ABOVE = 500;
const POLL_MS = 2000;
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"]);
const RANK = { FAILED: 5, TIMED_OUT: 5, RUNNING: 4, WAITING: 3, QUEUED: 2, ABORTED: 1,
               SKIPPED: 1, SUCCEEDED: 0, RECOVERED: 0 };
const COLORS = { SUCCEEDED: "#1e8a4c", RECOVERED: "#1e8a4c", FAILED: "#c0392b",
                 TIMED_OUT: "#c0392b", RUNNING: "#2d6cdf", QUEUED: "#b7791f",
                 WAITING: "#b7791f", ABORTED: "#8a8f98", SKIPPED: "#8a8f98" };

window.__flyray = { graphRenderMs: null, lastSeq: 0 };

// --- the store --------------------------------------------------------------------------
const store = { phases: new Map(), children: new Map(), attempts: new Map(), seq: 0,
                execution: null, selected: null, listeners: [] };

function subscribe(fn) { store.listeners.push(fn); }

function apply(changes) {
  const nodes = new Set();
  for (const n of changes.nodes) {
    store.phases.set(n.node_id, n.phase);
    if (n.children && Object.keys(n.children).length) store.children.set(n.node_id, n.children);
    nodes.add(n.node_id);
  }
  for (const a of changes.attempts) store.attempts.set(`${a.node_id}#${a.attempt}`, a);
  store.execution = changes.execution;
  store.seq = changes.seq;
  window.__flyray.lastSeq = changes.seq;
  for (const fn of store.listeners) fn(nodes, changes);
}

// The phase a box shows: its node's, or for a group (a sub-workflow, a fan of alike
// nodes) the most telling phase of its member nodes (failed over running over queued
// over done).
function phaseOf(n) {
  const own = store.phases.get(n.id);
  if (own || (n.kind !== "subworkflow" && !n.members)) return own || "";
  let best = "";
  const better = (phase) => { if (best === "" || RANK[phase] > RANK[best]) best = phase; };
  if (n.members) {
    for (const m of n.members) { const p = store.phases.get(m); if (p) better(p); }
    return best;
  }
  for (const [node, phase] of store.phases) if (node.startsWith(n.id + "-")) better(phase);
  return best;
}

// What a click on a box selects: the node itself, or a fan's most telling member.
function pick(n) {
  if (!n.members) return n.id;
  const target = phaseOf(n);
  return n.members.find((m) => store.phases.get(m) === target) || n.members[0];
}

function follow(root) {
  const url = root.dataset.eventsUrl;
  if (!window.EventSource) { poll(root.dataset.changesUrl); return; }
  const source = new EventSource(url);
  let done = false;
  source.onmessage = (e) => apply(JSON.parse(e.data));
  source.addEventListener("done", () => { done = true; source.close(); });
  source.onerror = () => { if (!done) { source.close(); poll(root.dataset.changesUrl); } };
}

async function poll(url) {
  for (;;) {
    try {
      const res = await fetch(`${url}?since=${store.seq}&limit=5000`);
      if (res.ok) {
        const changes = await res.json();
        apply(changes);
        if (changes.terminal) return;
        if (changes.more) continue;
      }
    } catch (err) { /* the server restarts or the network blips: ask again later */ }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

// --- selection --------------------------------------------------------------------------
const selectors = [];

function select(id, root) {
  store.selected = id;
  const url = new URL(location.href);
  url.searchParams.set("node", id);
  history.replaceState(null, "", url);
  for (const fn of selectors) fn(id);
  if (root) loadPanel(root, id);
}

async function loadPanel(root, id) {
  const aside = root.querySelector("[data-testid=node-panel]");
  const res = await fetch(`${root.dataset.base}/nodes/${encodeURIComponent(id)}`,
                          { headers: { "X-Fragment": "1" } });
  aside.hidden = false;
  if (!res.ok) { aside.textContent = `node ${id}: ${res.status} ${await res.text()}`; return; }
  aside.innerHTML = await res.text();
  loadLog(aside);
}

async function loadLog(aside) {
  const pre = aside.querySelector("[data-log-url]");
  if (!pre) return;
  const res = await fetch(pre.dataset.logUrl);
  const body = await res.json().catch(() => ({}));
  if (res.ok) pre.textContent = body.text || "(the log is empty so far)";
  else pre.textContent = (body.error && body.error.message) || `no log (${res.status})`;
}

// --- the graph --------------------------------------------------------------------------
export async function mountGraph(el, onSelect) {
  const t0 = performance.now();
  const res = await fetch(el.dataset.geometryUrl);
  if (!res.ok) { el.textContent = `The graph is unavailable (${res.status}).`; return null; }
  const g = await res.json();
  const groups = g.groups || {};
  const nodes = g.nodes.map(([id, x, y, w, h, kind, label, count]) =>
    ({ id, x, y, w, h, kind, label, count, members: groups[id] }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const view = { k: 1, tx: 0, ty: 0 };
  const graph = { el, nodes, edges: g.edges, byId, view, width: g.width, height: g.height,
                  selected: null, onSelect };
  el.replaceChildren();
  graph.canvas = nodes.length > CANVAS_ABOVE;
  if (graph.canvas) drawCanvasGraph(graph); else drawSvgGraph(graph);
  addTools(graph);
  fit(graph);
  el.dataset.nodeCount = nodes.length;
  el.dataset.edgeCount = g.edges.length;
  el.dataset.rendered = "1";
  window.__flyray.graphRenderMs = performance.now() - t0;
  window.__flyray.renderedAt = performance.now();  // since navigation start
  subscribe(() => recolor(graph));
  recolor(graph);
  new ResizeObserver(() => { if (!graph.fitted) fit(graph); else redraw(graph); }).observe(el);
  return graph;
}

function label(n) {
  if (!n.count) return n.label;
  const kids = n.members ? memberCounts(n.members) : store.children.get(n.id);
  const done = kids ? ` ✓${(kids.SUCCEEDED || 0) + (kids.RECOVERED || 0)}` +
    (kids.FAILED ? ` ✗${kids.FAILED}` : "") + (kids.RUNNING ? ` ▶${kids.RUNNING}` : "") : "";
  return `${n.label} ×${n.count}${done}`;
}

function memberCounts(members) {
  const counts = {};
  for (const m of members) {
    const p = store.phases.get(m);
    if (p) counts[p] = (counts[p] || 0) + 1;
  }
  return Object.keys(counts).length ? counts : null;
}

function drawSvgGraph(graph) {
  const svg = document.createElementNS(NS, "svg");
  const root = document.createElementNS(NS, "g");
  svg.append(root);
  for (const [i, j] of graph.edges) {
    const a = graph.nodes[i], b = graph.nodes[j];
    const path = document.createElementNS(NS, "path");
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
    path.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
    path.setAttribute("class", "edge");
    root.append(path);
  }
  for (const n of graph.nodes) {
    const box = document.createElementNS(NS, "g");
    box.setAttribute("class", "node");
    box.setAttribute("transform", `translate(${n.x},${n.y})`);
    box.dataset.nodeId = n.id;
    box.dataset.kind = n.kind;
    box.dataset.phase = "";
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("width", n.w);
    rect.setAttribute("height", n.h);
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", 8);
    text.setAttribute("y", n.h / 2 + 4);
    text.textContent = label(n);
    const title = document.createElementNS(NS, "title");
    title.textContent = `${n.id} (${n.kind})`;
    box.append(rect, text, title);
    n.el = box;
    n.text = text;
    root.append(box);
  }
  svg.addEventListener("click", (e) => {
    const box = e.target.closest(".node");
    if (box && !graph.dragged && !["start", "end"].includes(box.dataset.kind)) {
      graph.onSelect && graph.onSelect(pick(graph.byId.get(box.dataset.nodeId)));
    }
  });
  graph.svg = svg;
  graph.root = root;
  graph.el.append(svg);
}

function drawCanvasGraph(graph) {
  const canvas = document.createElement("canvas");
  canvas.className = "main";
  const list = document.createElement("ul");
  list.className = "node-list";
  for (const n of graph.nodes) {
    const li = document.createElement("li");
    li.dataset.nodeId = n.id;
    li.dataset.kind = n.kind;
    li.dataset.phase = "";
    li.textContent = label(n);
    n.el = li;
    list.append(li);
  }
  canvas.addEventListener("click", (e) => {
    if (graph.dragged) return;
    const r = canvas.getBoundingClientRect();
    const v = graph.view;
    const x = (e.clientX - r.left - v.tx) / v.k, y = (e.clientY - r.top - v.ty) / v.k;
    const hit = graph.nodes.find((n) => x >= n.x && x <= n.x + n.w && y >= n.y && y <= n.y + n.h);
    if (hit && !["start", "end"].includes(hit.kind)) graph.onSelect && graph.onSelect(pick(hit));
  });
  graph.main = canvas;
  graph.el.append(canvas, list);
}

function addTools(graph) {
  const tools = document.createElement("div");
  tools.className = "tools";
  const fitButton = document.createElement("button");
  fitButton.type = "button";
  fitButton.textContent = "Fit";
  fitButton.dataset.testid = "graph-fit";
  fitButton.onclick = () => fit(graph);
  const search = document.createElement("input");
  search.type = "search";
  search.placeholder = "Find a node";
  search.setAttribute("data-testid", "graph-search");
  search.addEventListener("change", () => {
    const q = search.value.trim().toLowerCase();
    const member = q && graph.nodes.find((n) => n.members && n.members.includes(q));
    if (member) { focus(graph, member); graph.onSelect && graph.onSelect(q); return; }
    const hit = q && graph.nodes.find((n) => n.id.toLowerCase() === q) ||
      graph.nodes.find((n) => n.label.toLowerCase().includes(q));
    if (hit) { focus(graph, hit); graph.onSelect && graph.onSelect(pick(hit)); }
  });
  tools.append(fitButton, search);
  const mini = document.createElement("canvas");
  mini.className = "minimap";
  mini.width = 180;
  mini.height = 120;
  mini.addEventListener("click", (e) => {
    const r = mini.getBoundingClientRect();
    const s = miniScale(graph);
    center(graph, (e.clientX - r.left) / s, (e.clientY - r.top) / s);
  });
  graph.mini = mini;
  graph.el.append(tools, mini);
  let start = null;
  graph.el.addEventListener("pointerdown", (e) => {
    if (e.target.closest(".tools, .minimap")) return;
    start = { x: e.clientX, y: e.clientY, tx: graph.view.tx, ty: graph.view.ty };
    graph.dragged = false;
  });
  window.addEventListener("pointermove", (e) => {
    if (!start) return;
    const dx = e.clientX - start.x, dy = e.clientY - start.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) graph.dragged = true;
    graph.view.tx = start.tx + dx;
    graph.view.ty = start.ty + dy;
    redraw(graph);
  });
  window.addEventListener("pointerup", () => { start = null; });
  graph.el.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = graph.el.getBoundingClientRect();
    const v = graph.view, px = e.clientX - r.left, py = e.clientY - r.top;
    const k = Math.min(Math.max(v.k * Math.exp(-e.deltaY / 400), 0.002), 4);
    v.tx = px - (px - v.tx) * k / v.k;
    v.ty = py - (py - v.ty) * k / v.k;
    v.k = k;
    redraw(graph);
  }, { passive: false });
}

function fit(graph) {
  const w = graph.el.clientWidth, h = graph.el.clientHeight;
  if (!w || !h) return;
  const v = graph.view;
  v.k = Math.min(w / (graph.width + 40), h / (graph.height + 40), 1.5);
  v.tx = (w - graph.width * v.k) / 2;
  v.ty = (h - graph.height * v.k) / 2;
  graph.fitted = true;
  redraw(graph);
}

function center(graph, x, y) {
  const v = graph.view;
  v.tx = graph.el.clientWidth / 2 - x * v.k;
  v.ty = graph.el.clientHeight / 2 - y * v.k;
  redraw(graph);
}

function focus(graph, n) {
  graph.view.k = Math.max(graph.view.k, 0.8);
  center(graph, n.x + n.w / 2, n.y + n.h / 2);
}

function miniScale(graph) {
  return Math.min(180 / Math.max(graph.width, 1), 120 / Math.max(graph.height, 1));
}

function redraw(graph) {
  const v = graph.view;
  if (graph.canvas) paintCanvas(graph);
  else graph.root.setAttribute("transform", `translate(${v.tx},${v.ty}) scale(${v.k})`);
  paintMinimap(graph);
}

function paintCanvas(graph) {
  const canvas = graph.main, ratio = window.devicePixelRatio || 1;
  const w = graph.el.clientWidth, h = graph.el.clientHeight;
  if (canvas.width !== w * ratio || canvas.height !== h * ratio) {
    canvas.width = w * ratio;
    canvas.height = h * ratio;
  }
  const ctx = canvas.getContext("2d"), v = graph.view;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.setTransform(ratio * v.k, 0, 0, ratio * v.k, ratio * v.tx, ratio * v.ty);
  const x0 = -v.tx / v.k, y0 = -v.ty / v.k, x1 = x0 + w / v.k, y1 = y0 + h / v.k;
  const visible = (n) => n.x + n.w >= x0 && n.x <= x1 && n.y + n.h >= y0 && n.y <= y1;
  ctx.strokeStyle = "#c9ced8";
  ctx.lineWidth = 1 / v.k;
  ctx.beginPath();
  for (const [i, j] of graph.edges) {
    const a = graph.nodes[i], b = graph.nodes[j];
    if (!visible(a) && !visible(b)) continue;
    ctx.moveTo(a.x + a.w, a.y + a.h / 2);
    ctx.lineTo(b.x, b.y + b.h / 2);
  }
  ctx.stroke();
  const labels = v.k > 0.35;  // semantic zoom: far out, boxes only
  ctx.font = "12px system-ui, sans-serif";
  for (const n of graph.nodes) {
    if (!visible(n)) continue;
    ctx.fillStyle = COLORS[n.phase] || "#d5d9e0";
    ctx.fillRect(n.x, n.y, n.w, n.h);
    if (n.id === graph.selected) {
      ctx.strokeStyle = "#1d2330";
      ctx.lineWidth = 3 / v.k;
      ctx.strokeRect(n.x, n.y, n.w, n.h);
    }
    if (labels) {
      ctx.fillStyle = "#fff";
      ctx.fillText(label(n), n.x + 8, n.y + n.h / 2 + 4, n.w - 12);
    }
  }
}

function paintMinimap(graph) {
  const ctx = graph.mini.getContext("2d"), s = miniScale(graph), v = graph.view;
  ctx.clearRect(0, 0, 180, 120);
  for (const n of graph.nodes) {
    ctx.fillStyle = COLORS[n.phase] || "#b8bfcc";
    ctx.fillRect(n.x * s, n.y * s, Math.max(n.w * s, 1), Math.max(n.h * s, 1));
  }
  ctx.strokeStyle = "#3557b7";
  ctx.strokeRect(-v.tx / v.k * s, -v.ty / v.k * s, graph.el.clientWidth / v.k * s,
                 graph.el.clientHeight / v.k * s);
}

function recolor(graph) {
  for (const n of graph.nodes) {
    const phase = phaseOf(n);
    n.phase = phase;
    if (n.el.dataset.phase !== phase) n.el.dataset.phase = phase;
    if (n.count) {
      const text = label(n);
      if (n.text) n.text.textContent = text; else n.el.textContent = text;
    }
  }
  redraw(graph);
}

function highlight(graph, id) {
  graph.selected = id;
  for (const n of graph.nodes) {
    n.el.classList.toggle("selected", n.id === id || (n.members || []).includes(id));
  }
  redraw(graph);
}

// --- the timeline -------------------------------------------------------------------------
async function mountTimeline(el, url, root) {
  const res = await fetch(url);
  if (!res.ok) { el.textContent = `The timeline is unavailable (${res.status}).`; return; }
  const t = await res.json();
  const fetched = performance.now();
  const now = () => t.now + (performance.now() - fetched) / 1000;
  const bars = new Map(), rows = new Map();
  const row = (id) => {
    let r = rows.get(id);
    if (!r) {
      r = document.createElement("div");
      r.className = "tl-row";
      r.dataset.nodeId = id;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = id;
      name.onclick = () => select(id, root);
      const lane = document.createElement("div");
      lane.className = "lane";
      r.append(name, lane);
      rows.set(id, r);
      el.append(r);
    }
    return r.lastChild;
  };
  const put = (id, attempt, phase, start, end) => {
    const key = `${id}#${attempt}`;
    let bar = bars.get(key);
    if (!bar) {
      const div = document.createElement("div");
      div.className = "bar";
      div.dataset.bar = "";
      div.dataset.nodeId = id;
      div.dataset.attempt = attempt;
      row(id).append(div);
      bar = { div };
      bars.set(key, bar);
    }
    Object.assign(bar, { phase, start, end });
    bar.div.dataset.phase = phase;
    bar.div.title = `${id} attempt ${attempt}: ${phase}`;
  };
  for (const [id, attempt, phase, offset, duration] of t.bars) {
    put(id, attempt, phase, offset, phase === "RUNNING" ? null : offset + duration);
  }
  const layout = () => {
    const running = !store.execution || !TERMINAL.has(store.execution.phase);
    const until = now() - t.origin;
    let span = running ? until : 0;
    for (const b of bars.values()) span = Math.max(span, b.end ?? until, t.span);
    for (const b of bars.values()) {
      const end = b.end ?? until;
      b.div.style.left = `${(100 * b.start / span).toFixed(3)}%`;
      b.div.style.width = `${(100 * Math.max(end - b.start, 0) / span).toFixed(3)}%`;
    }
  };
  subscribe((_, changes) => {
    for (const a of changes.attempts) {
      const phase = a.outcome || (TERMINAL.has(changes.execution.phase) ? "ABORTED" : "RUNNING");
      put(a.node_id, a.attempt, phase, a.started_at - t.origin,
          a.ended_at == null ? null : a.ended_at - t.origin);
    }
    layout();
  });
  selectors.push((id) => { for (const [k, r] of rows) r.classList.toggle("selected", k === id); });
  layout();
  el.dataset.rendered = "1";
}

// --- the node tree -------------------------------------------------------------------------
// Rows come from the server a page (200) at a time, already filtered; each row carries its
// depth, so collapsing a row removes the rows below it that sit deeper.
async function fetchRows(table, query, offset) {
  const params = new URLSearchParams(query);
  params.set("offset", offset);
  if (table.dataset.filter) params.set("filter", table.dataset.filter);
  const res = await fetch(`${table.dataset.rowsUrl}?${params}`);
  if (!res.ok) throw new Error(`rows: ${res.status}`);
  const tpl = document.createElement("template");
  tpl.innerHTML = (await res.text()).trim();
  for (const t of tpl.content.querySelectorAll("time[data-epoch]")) {
    t.textContent = new Date(Number(t.dataset.epoch) * 1000).toLocaleTimeString();
  }
  return tpl.content;
}

function collapse(tr) {
  const depth = Number(tr.dataset.depth || 0);
  while (tr.nextElementSibling && Number(tr.nextElementSibling.dataset.depth || 0) > depth) {
    tr.nextElementSibling.remove();
  }
}

async function loadTree(table) {
  const body = table.tBodies[0];
  table.dataset.rendered = "0";
  body.replaceChildren(await fetchRows(table, "", 0));
  table.dataset.rendered = "1";
}

async function mountTree(table, root) {
  const body = table.tBodies[0];
  await loadTree(table);
  const filters = root.querySelector("[data-testid=node-filters]");
  filters.addEventListener("click", (e) => {
    const link = e.target.closest("[data-filter]");
    if (!link) return;
    e.preventDefault();
    table.dataset.filter = link.dataset.filter;
    for (const a of filters.querySelectorAll("[data-filter]")) {
      a.setAttribute("aria-pressed", String(a === link));
    }
    const url = new URL(location.href);
    if (link.dataset.filter) url.searchParams.set("filter", link.dataset.filter);
    else url.searchParams.delete("filter");
    history.replaceState(null, "", url);
    loadTree(table);
  });
  table.addEventListener("click", async (e) => {
    const expand = e.target.closest("[data-expand]");
    const more = e.target.closest("[data-more]");
    if (expand) {
      const tr = expand.closest("tr");
      const open = expand.getAttribute("aria-expanded") === "true";
      collapse(tr);
      expand.setAttribute("aria-expanded", String(!open));
      if (!open) tr.after(await fetchRows(table, expand.dataset.query, 0));
    } else if (more) {
      more.closest("tr").replaceWith(await fetchRows(table, more.dataset.more, more.dataset.offset));
    }
  });
  subscribe((nodes) => {
    const groups = new Set();
    for (const id of nodes) {
      const tr = body.querySelector(`tr[data-kind=node][data-node-id="${CSS.escape(id)}"]`);
      if (tr) setPhase(tr, store.phases.get(id));
      for (let i = id.indexOf("-"); i > 0; i = id.indexOf("-", i + 1)) groups.add(id.slice(0, i));
    }
    // A sub-workflow's row: its most telling member's phase (filtered: the server's).
    for (const id of table.dataset.filter ? [] : groups) {
      const tr = body.querySelector(`tr[data-kind=subworkflow][data-node-id="${CSS.escape(id)}"]`);
      if (tr) setPhase(tr, phaseOf({ id, kind: "subworkflow" }));
    }
  });
  selectors.push((id) => {
    for (const tr of body.querySelectorAll("tr.selected")) tr.classList.remove("selected");
    const tr = body.querySelector(`tr[data-node-id="${CSS.escape(id)}"]`);
    if (tr) tr.classList.add("selected");
  });
}

function setPhase(tr, phase) {
  if (!phase || tr.dataset.phase === phase) return;
  tr.dataset.phase = phase;
  const pill = tr.querySelector("[data-phase-text]");
  pill.textContent = phase;
  pill.className = `pill phase-${phase}`;
}

// --- the execution page -----------------------------------------------------------------------
function mountExecution(root) {
  follow(root);
  const pill = root.querySelector("[data-testid=execution-phase]");
  subscribe((nodes) => {
    const phase = store.execution.phase;
    if (pill.dataset.phase !== phase) {
      pill.dataset.phase = phase;
      pill.textContent = phase;
      pill.className = `pill phase-${phase}`;
    }
    if (store.selected && nodes.has(store.selected)) loadPanel(root, store.selected);
  });
  root.addEventListener("click", (e) => {
    const link = e.target.closest("[data-select]");
    const tab = e.target.closest("[data-tab]");
    if (link) { e.preventDefault(); select(link.dataset.select, root); }
    if (tab) { e.preventDefault(); show(root, tab.dataset.tab); }
    if (e.target.closest("[data-close]")) root.querySelector("[data-testid=node-panel]").hidden = true;
  });
  const graphEl = root.querySelector("[data-testid=graph]");
  mountGraph(graphEl, (id) => select(id, root)).then((graph) => {
    if (graph) selectors.push((id) => highlight(graph, id));
    if (graph && store.selected) highlight(graph, store.selected);
  });
  mountTimeline(root.querySelector("[data-testid=timeline]"), root.dataset.timelineUrl, root);
  mountTree(root.querySelector("[data-testid=nodes]"), root);
  const aside = root.querySelector("[data-testid=node-panel]");
  if (root.dataset.node) {
    store.selected = root.dataset.node;
    if (aside.hidden) loadPanel(root, root.dataset.node); else loadLog(aside);
  }
}

function show(root, view) {
  for (const section of root.querySelectorAll(".view")) section.hidden = section.dataset.view !== view;
  for (const tab of root.querySelectorAll("[data-tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === view));
  }
  const url = new URL(location.href);
  url.searchParams.set("view", view);
  history.replaceState(null, "", url);
}

const page = document.getElementById("execution");
if (page) mountExecution(page);
for (const el of document.querySelectorAll("[data-geometry-url]")) {
  if (!page || !page.contains(el)) mountGraph(el);
}
