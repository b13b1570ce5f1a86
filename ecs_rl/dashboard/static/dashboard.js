// The ecs-rl dashboard page: lists the runs, polls the ticked runs' logs for new lines, draws uPlot charts.
// The ticked runs are kept in the address (#runs=id,id). Without #runs the page follows training: it ticks
// every run that is training when it lists the runs (runs started later too), until a box is clicked.
"use strict";

const POLL_MS = 2000;      // new log lines of the ticked runs
const LIST_MS = 2000;      // the runs table
const INKED = new URLSearchParams(location.search).has("inked");  // count the runs' pixels (for tests)
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

const state = {
  runs: new Map(),         // id -> row of /api/runs
  selected: [],            // ticked run ids, in order
  data: new Map(),         // id -> what its logs said so far (see emptyData)
  colors: new Map(),       // id -> colour, kept while the page is open
  charts: new Map(),       // chart key -> {box, plot, signature}
  listed: false,
  follow: false,           // no #runs in the address: tick runs as they start training
  dirty: false,
  busy: false,
};

const $ = (sel) => document.querySelector(sel);

function note(text) { $("#note").textContent = text || ""; }

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  let body = {};
  try { body = await response.json(); } catch (e) { body = { error: `${url}: not JSON` }; }
  return { status: response.status, body };
}

function apiPath(id) { return id.split("/").map(encodeURIComponent).join("/"); }

function colorOf(id) {
  if (!state.colors.has(id)) state.colors.set(id, COLORS[state.colors.size % COLORS.length]);
  return state.colors.get(id);
}

function emptyData() {
  return { next: { episodes: 0, evals: 0 }, steps: [], reward: [], length: [], extras: new Map(),
           evalSteps: [], evalReward: [] };
}

// -- selection in the address ------------------------------------------------------------------------

function selectionFromHash() {
  const m = location.hash.match(/runs=([^&]*)/);
  return m ? m[1].split(",").filter(Boolean).map(decodeURIComponent) : null;
}

function writeHash() {
  history.replaceState(null, "", "#runs=" + state.selected.map(encodeURIComponent).join(","));
}

function setSelected(ids) {
  state.selected = ids;
  for (const id of [...state.data.keys()]) if (!ids.includes(id)) state.data.delete(id);
  if (!state.follow) writeHash();
  state.dirty = true;
}

// -- the runs table ---------------------------------------------------------------------------------

function fmt(value, digits) {
  if (value === null || value === undefined) return "-";
  return digits === undefined ? Number(value).toLocaleString() : Number(value).toFixed(digits);
}

async function refreshRuns() {
  const { status, body } = await getJSON("/api/runs");
  if (status !== 200) { note(body.error || `runs: HTTP ${status}`); return; }
  $("#root").textContent = `runs under ${body.root}`;
  state.runs = new Map(body.runs.map((r) => [r.id, r]));
  if (!state.listed) {
    state.listed = true;
    const wanted = selectionFromHash();
    state.follow = wanted === null;
    if (wanted !== null) setSelected(wanted.filter((id) => state.runs.has(id)));
    else if (!body.runs.some((r) => r.training) && body.runs.length) {
      setSelected([body.runs[body.runs.length - 1].id]);  // nothing training: the last run listed
    }
  }
  if (state.follow) {
    const started = body.runs.filter((r) => r.training && !r.error && !state.selected.includes(r.id));
    if (started.length) setSelected([...state.selected, ...started.map((r) => r.id)]);
  }
  const gone = state.selected.filter((id) => !state.runs.has(id));
  if (gone.length) {
    note(`deleted while shown: ${gone.join(", ")}`);
    setSelected(state.selected.filter((id) => state.runs.has(id)));
  }
  renderTable();
}

function renderTable() {
  const tbody = $("#runs tbody");
  tbody.replaceChildren();
  for (const run of state.runs.values()) {
    const tr = document.createElement("tr");
    if (run.error) tr.className = "error";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.selected.includes(run.id);
    box.disabled = Boolean(run.error);
    box.dataset.run = run.id;
    box.addEventListener("change", () => {
      state.follow = false;
      setSelected(box.checked ? [...state.selected, run.id] : state.selected.filter((id) => id !== run.id));
      renderTable();
      tick();
    });
    const first = document.createElement("td");
    first.append(box);
    if (state.selected.includes(run.id)) {
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colorOf(run.id);
      first.append(swatch);
    }
    tr.append(first);
    const cells = run.error
      ? [run.name, run.version, run.run_id, "", "", "", "", run.error]
      : [run.name, run.version, run.run_id, run.algo || "-", fmt(run.steps), fmt(run.episodes),
         fmt(run.best_eval, 2), run.last_updated || "-"];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i >= 4 && i <= 6) td.className = "num";
      tr.append(td);
    });
    const marker = document.createElement("td");
    if (run.training) { marker.textContent = "● training"; marker.className = "training"; }
    tr.append(marker);
    tbody.append(tr);
  }
}

// -- polling the logs -------------------------------------------------------------------------------

function addEpisodes(d, rows) {
  for (const row of rows) {
    const i = d.steps.length;
    d.steps.push(row.step);
    d.reward.push(row.total_reward);
    d.length.push(row.length);
    for (const [name, value] of Object.entries(row.extras || {})) {
      if (typeof value !== "number" && value !== null) continue;
      if (!d.extras.has(name)) d.extras.set(name, []);
      const column = d.extras.get(name);
      column[i] = value === null ? NaN : value;
    }
  }
}

function addEvals(d, rows) {
  for (const row of rows) { d.evalSteps.push(row.step); d.evalReward.push(row.total_reward); }
}

async function pollRun(id) {
  if (!state.data.has(id)) state.data.set(id, emptyData());
  const d = state.data.get(id);
  for (const log of ["episodes", "evals"]) {
    for (let more = true; more;) {
      const { status, body } = await getJSON(`/api/runs/${apiPath(id)}/${log}?after=${d.next[log]}`);
      if (state.data.get(id) !== d) return;  // unticked meanwhile
      if (status === 404) {
        note(`deleted while shown: ${id}`);
        setSelected(state.selected.filter((x) => x !== id));
        return;
      }
      if (status !== 200) { note(`${id}: ${body.error || "HTTP " + status}`); return; }
      if (body.reset) {  // the log was cut back (a resume): read it again from the start
        const fresh = emptyData();
        fresh.next = { episodes: 0, evals: 0 };
        state.data.set(id, fresh);
        state.dirty = true;
        return pollRun(id);
      }
      if (body.rows.length) {
        (log === "episodes" ? addEpisodes : addEvals)(d, body.rows);
        state.dirty = true;
      }
      d.next[log] = body.next;
      more = body.more;
    }
  }
}

async function tick() {
  if (state.busy) return;
  state.busy = true;
  try {
    for (const id of state.selected) await pollRun(id);
    if (state.dirty) { state.dirty = false; draw(); }
    $("#status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $("#status").textContent = `server unreachable (${e.message}); retrying`;
  } finally {
    state.busy = false;
  }
}

// -- series -----------------------------------------------------------------------------------------

// One point per step (episodes of several agents can end on the same step): their mean, or the last value.
function perStep(steps, values, last) {
  const xs = [], ys = [];
  let sum = 0, n = 0;
  for (let i = 0; i < steps.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isFinite(v)) {
      if (last) { sum = v; n = 1; } else { sum += v; n += 1; }
    }
    if (i === steps.length - 1 || steps[i + 1] !== steps[i]) {
      if (n) { xs.push(steps[i]); ys.push(sum / n); }
      sum = 0; n = 0;
    }
  }
  return [xs, ys];
}

function rolling(values, window) {
  const out = new Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out[i] = sum / Math.min(i + 1, window);
  }
  return out;
}

function chartSpecs() {
  const window = Math.max(1, parseInt($("#smooth").value, 10) || 20);
  const runs = state.selected.filter((id) => state.data.has(id));
  const extras = new Set();
  for (const id of runs) for (const name of state.data.get(id).extras.keys()) extras.add(name);
  const specs = [
    { key: "reward", title: `episode reward (raw, and mean of ${window})`, tables: runs.map((id) => {
        const d = state.data.get(id);
        const raw = perStep(d.steps, d.reward, false);
        const smooth = perStep(d.steps, rolling(d.reward, window), true);
        return { id, parts: [[raw, "raw"], [smooth, "smoothed"]] };
      }) },
    { key: "length", title: "episode length", tables: runs.map((id) => {
        const d = state.data.get(id);
        return { id, parts: [[perStep(d.steps, d.length, false), "length"]] };
      }) },
    { key: "eval", title: "evaluation mean reward", points: true, tables: runs.map((id) => {
        const d = state.data.get(id);
        return { id, parts: [[perStep(d.evalSteps, d.evalReward, false), "eval mean"]] };
      }) },
  ];
  for (const name of [...extras].sort()) {
    specs.push({ key: `extra:${name}`, title: name, tables: runs.map((id) => {
      const d = state.data.get(id);
      const column = d.extras.get(name) || [];
      return { id, parts: [[perStep(d.steps, d.steps.map((_, i) => column[i]), false), name]] };
    }) });
  }
  return specs;
}

// -- charts -----------------------------------------------------------------------------------------

function rgb(hex) { return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)); }

// Pixels of the canvas in one of the runs' colours: the lines the chart drew (axes and grid are grey);
// with ?inked in the address, written into the chart's data-inked after every draw.
function inked(plot, ids) {
  const canvas = plot.ctx.canvas;
  const pixels = plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const wanted = ids.map((id) => rgb(colorOf(id)));
  let count = 0;
  for (let p = 0; p < pixels.length; p += 4) {
    if (pixels[p + 3] < 200) continue;
    for (const [r, g, b] of wanted) {
      if (Math.abs(pixels[p] - r) + Math.abs(pixels[p + 1] - g) + Math.abs(pixels[p + 2] - b) < 60) { count++; break; }
    }
  }
  return count;
}

// A run's name in legends: its id without the parts every ticked run shares (its run directory at least).
function shortName(id) {
  const parts = id.split("/");
  const others = state.selected.map((x) => x.split("/"));
  let k = 0;
  while (k < parts.length - 1 && others.every((o) => o[k] === parts[k])) k++;
  return parts.slice(k).join("/");
}

function draw() {
  const specs = chartSpecs();
  const keep = new Set(specs.map((s) => s.key));
  for (const [key, chart] of state.charts) {
    if (!keep.has(key)) { chart.plot.destroy(); chart.box.remove(); state.charts.delete(key); }
  }
  let total = 0;
  for (const spec of specs) {
    const tables = spec.tables.flatMap((t) => t.parts.map(([xy]) => xy));  // one [steps, values] per series
    const data = tables.length ? uPlot.join(tables) : [[]];
    const series = [{ label: "step" }];
    for (const t of spec.tables) {
      for (const [, label] of t.parts) {
        const color = colorOf(t.id);
        const faint = label === "raw";
        series.push({ label: `${shortName(t.id)} ${label}`, stroke: faint ? color + "55" : color, width: faint ? 1 : 2,
                      spanGaps: true, points: { show: Boolean(spec.points) } });
      }
    }
    const points = data.slice(1).reduce((n, col) => n + col.filter((v) => v !== undefined && v !== null).length, 0);
    total += points;
    const signature = series.map((s) => s.label + s.stroke).join("|");
    let chart = state.charts.get(spec.key);
    if (chart && chart.signature !== signature) { chart.plot.destroy(); chart.box.remove(); chart = undefined; }
    if (!chart) {
      const box = document.createElement("div");
      box.className = "chart";
      const h2 = document.createElement("h2");
      h2.textContent = spec.title;
      box.append(h2);
      $("#charts").append(box);
      const ids = spec.tables.map((t) => t.id);
      const width = Math.max(480, Math.min(box.clientWidth || 560, 900));
      const opts = {
        width, height: 260, series, legend: { live: false },
        scales: { x: { time: false } },
        axes: [{ label: "steps" }, {}],
        hooks: { draw: INKED ? [(u) => { box.dataset.inked = inked(u, ids); }] : [] },
      };
      chart = { box, signature, plot: new uPlot(opts, data, box) };
      state.charts.set(spec.key, chart);
    } else {
      chart.box.querySelector("h2").textContent = spec.title;
      chart.plot.setData(data);
    }
    chart.box.dataset.key = spec.key;
    chart.box.dataset.points = points;
  }
  document.body.dataset.points = total;
  document.body.dataset.draws = (parseInt(document.body.dataset.draws || "0", 10) + 1).toString();
}

// -- start ------------------------------------------------------------------------------------------

$("#smooth").addEventListener("change", () => draw());
window.addEventListener("hashchange", () => {
  const wanted = selectionFromHash();
  if (wanted) { state.follow = false; setSelected(wanted.filter((id) => state.runs.has(id))); renderTable(); tick(); }
});
refreshRuns().then(tick);
setInterval(tick, POLL_MS);
setInterval(refreshRuns, LIST_MS);
