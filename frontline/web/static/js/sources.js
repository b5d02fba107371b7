/* Two maps side by side: pick sources A and B, see where they disagree (hatched) and who showed changes first.
 *
 * Makes its own section in the side panel (`#sources-box`), its own map source and layers (`src-diff`), and
 * its hatch patterns (drawn on a canvas here: no image files). Asks /api/sources, /api/compare-sources at the
 * shown version's time and /api/compare-sources/lags over the LAG_DAYS before it; the lags are drawn as a
 * histogram by whole day. The sources' attribution goes on the map's attribution control through the map
 * source's `attribution`, and under the table. Done when `document.body.dataset.sourcesCompare` is "A,B". */
import { $, page } from "./page.js";

const LAG_DAYS = 60;
const COLOURS = { ru: "#c0392b", ua: "#2e6fd0", contested: "#7f7f7f" };
const DAY_MS = 86400000;

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.detail || `${url}: HTTP ${r.status}`);
  return body;
}

// A diagonal hatch of one colour on a transparent 16×16 tile: what A says, over whatever the map shows below.
function hatch(colour) {
  const n = 16, c = document.createElement("canvas");
  c.width = c.height = n;
  const g = c.getContext("2d");
  g.strokeStyle = colour; g.lineWidth = 3; g.lineCap = "square";
  for (const o of [-n, 0, n]) { g.beginPath(); g.moveTo(o, n); g.lineTo(o + n, 0); g.stroke(); }
  return g.getImageData(0, 0, n, n);
}

function addImages(map) {
  for (const [s, col] of Object.entries(COLOURS)) {
    if (!map.hasImage(`hatch-${s}`)) map.addImage(`hatch-${s}`, hatch(col));
  }
}

function removeDiff(map) {
  for (const id of ["src-diff-line", "src-diff-fill"]) if (map.getLayer(id)) map.removeLayer(id);
  if (map.getSource("src-diff")) map.removeSource("src-diff");
}

// The map source is made anew with each answer so that its attribution (the two sources') is the control's.
function setDiff(map, fc, attribution) {
  removeDiff(map);
  addImages(map);
  map.addSource("src-diff", { type: "geojson", data: fc, attribution: esc(attribution) });
  map.addLayer({ id: "src-diff-fill", type: "fill", source: "src-diff",
                 paint: { "fill-pattern": ["concat", "hatch-", ["get", "a"]] } });
  map.addLayer({ id: "src-diff-line", type: "line", source: "src-diff",
                 paint: { "line-color": ["match", ["get", "b"], "ru", COLOURS.ru, "ua", COLOURS.ua, COLOURS.contested],
                          "line-width": 1.2 } });
}

// Bars of matched gains per whole day of lag (B's time less A's); zero is marked.
export function drawHistogram(canvas, rows) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  if (!rows.length) { g.fillStyle = "#666"; g.font = "12px sans-serif"; g.fillText("no change seen by both", 8, h / 2); return; }
  const lo = Math.min(0, rows[0].lag_days), hi = Math.max(0, rows[rows.length - 1].lag_days);
  const span = hi - lo + 1, top = Math.max(...rows.map((r) => r.count)), bw = (w - 20) / span;
  g.fillStyle = "#444";
  for (const r of rows) {
    const bh = ((h - 24) * r.count) / top;
    g.fillRect(10 + (r.lag_days - lo) * bw + 1, h - 14 - bh, Math.max(bw - 2, 1), bh);
  }
  g.strokeStyle = "#c00"; g.beginPath(); g.moveTo(10 + (0 - lo + 0.5) * bw, 4); g.lineTo(10 + (0 - lo + 0.5) * bw, h - 14); g.stroke();
  g.fillStyle = "#222"; g.font = "11px sans-serif";
  g.fillText(`${lo} d`, 4, h - 2); g.fillText(`${hi} d`, w - 30, h - 2);
}

function table(d) {
  const rows = d.pairs.filter((r) => r.km2 >= 0.05)
    .map((r) => `<tr><td>${esc(r.a)}</td><td>${esc(r.b)}</td><td class="num">${r.km2.toFixed(1)}</td></tr>`).join("");
  const places = d.settlements.slice(0, 10).map((s) => `<li>${esc(s.name)}: ${esc(s.a)} / ${esc(s.b)}</li>`).join("");
  return `<table class="src-pairs"><tr><th>A</th><th>B</th><th>km²</th></tr>${rows || '<tr><td colspan="3">they agree</td></tr>'}</table>` +
    (places ? `<ul class="src-places">${places}</ul>` : "") +
    `<div class="notes src-attr">${esc(d.attribution)}</div>`;
}

export async function runSources(a, b) {
  const map = page.map, v = page.versions[page.index];
  const at = v ? v.time : "latest";
  const q = new URLSearchParams({ a, b, at });
  const d = await getJSON(`/api/compare-sources?${q}`);
  setDiff(map, d.disagreement, d.attribution);
  $("src-out").innerHTML = table(d);
  const end = v ? Date.parse(v.time) : Date.now();
  const lq = new URLSearchParams({ a, b, from: new Date(end - LAG_DAYS * DAY_MS).toISOString().slice(0, 19) + "Z",
                                   to: new Date(end).toISOString().slice(0, 19) + "Z" });
  const lags = await getJSON(`/api/compare-sources/lags?${lq}`);
  drawHistogram($("src-hist"), lags.histogram);
  $("src-lag").textContent = lags.mean_lag_days === null ? "no change seen by both"
    : `mean lag ${lags.mean_lag_days.toFixed(2)} days (${lags.ground.length} changes; + = ${a} first)`;
  document.body.dataset.sourcesCompare = `${a},${b}`;
  return { compare: d, lags };
}

function clear() {
  removeDiff(page.map);
  $("src-out").innerHTML = ""; $("src-lag").textContent = "";
  drawHistogram($("src-hist"), []);
  delete document.body.dataset.sourcesCompare;
}

// The section, after the compare section of the panel (or at its end); filled from /api/sources.
export async function initSources() {
  const box = document.createElement("section");
  box.id = "sources-box";
  box.innerHTML = `<h2>Two maps</h2>
    <div class="row"><label>A <select id="src-a" aria-label="Source A"></select></label>
    <label>B <select id="src-b" aria-label="Source B"></select></label>
    <button id="src-go">compare maps</button> <button id="src-clear">clear</button></div>
    <div id="src-out"></div><div id="src-lag" class="notes"></div>
    <canvas id="src-hist" width="260" height="90" aria-label="Lags in days"></canvas>`;
  const panel = $("panel") || document.body, after = $("compare");
  if (after && after.parentNode === panel) after.after(box); else panel.appendChild(box);
  const { sources, default: shown } = await getJSON("/api/sources");
  // whose map this is, on the map itself: the shown source's attribution in MapLibre's control
  // (and, in the two-maps mode, the two sources' attributions its map source carries)
  const own = sources.find((s) => s.name === shown);
  const text = own && own.attribution ? esc(own.attribution) : undefined;
  page.map.addControl(new maplibregl.AttributionControl({ compact: true, customAttribution: text }));
  if (text) document.body.dataset.attribution = own.attribution;
  const names = sources.filter((s) => s.versions > 0).map((s) => s.name);
  for (const [id, pick] of [["src-a", 0], ["src-b", 1]]) {
    $(id).innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join("");
    $(id).value = names[Math.min(pick, names.length - 1)] || "";
  }
  if (names.length < 2) {
    $("src-out").textContent = "The store holds one source: import another with --source NAME to compare.";
    $("src-go").disabled = true;
  }
  $("src-go").addEventListener("click", () => {
    runSources($("src-a").value, $("src-b").value).catch((e) => { $("src-out").textContent = e.message; });
  });
  $("src-clear").addEventListener("click", clear);
  document.body.dataset.sourcesReady = String(names.length);
  return names;
}
