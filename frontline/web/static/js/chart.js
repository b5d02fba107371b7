/* The chart: the area series (loaded with the page), or any stored series (/api/series: front length,
 * a side's narrowest neck, settlements changed per week); a click on any of them picks that version. */
import { $, page, showError } from "./page.js";
import { areaSeriesUrl, getJSON } from "../app.js";

let chartRows = [], chartX = [], chartKey = "ru_km2", chartUnit = "km²", areaRows = [];
const CW = 320, CH = 140, PAD = 14;

// The stored series the picker offers besides the area: value -> [label, /api/series query].
function seriesChoices() {
  const out = { front: ["Front line length (km, monthly)", "what=front&every=month"] };
  for (const s of page.sides || []) out[`neck:${s}`] = [`Narrowest neck of ${s}'s salient (m)`, `what=neck&side=${s}`];
  out.settlements = ["Settlements changed hands (per week)", "what=settlements&every=week"];
  return out;
}

// Options for every stored series, made here (the page's markup has the area and the front only).
function fillPicker() {
  const sel = $("chart-what");
  if (!sel) return;
  for (const [value, [label]] of Object.entries(seriesChoices())) {
    let opt = [...sel.options].find((o) => o.value === value);
    if (!opt) { opt = document.createElement("option"); opt.value = value; sel.appendChild(opt); }
    opt.textContent = label;
  }
}

function drawChart() {
  const svg = $("chart");
  const pts = chartRows.filter((r) => r[chartKey] != null);
  if (!pts.length) { svg.innerHTML = `<text x="${PAD}" y="70">no values in this series</text>`; chartX = []; return; }
  const t = pts.map((r) => Date.parse(r.time)), y = pts.map((r) => r[chartKey]);
  const t0 = Math.min(...t), t1 = Math.max(...t), ymax = Math.max(...y) * 1.05 || 1;
  const ymin = Math.min(...y) * 0.95;
  const sx = (v) => PAD + (t1 > t0 ? (v - t0) / (t1 - t0) : 0.5) * (CW - 2 * PAD);
  const sy = (v) => CH - PAD - (ymax > ymin ? (v - ymin) / (ymax - ymin) : 0.5) * (CH - 2 * PAD);
  chartX = pts.map((r, k) => ({ id: r.version_id, x: sx(t[k]) }));
  let d = `M${sx(t[0])},${CH - PAD}`;
  pts.forEach((r, k) => { d += `L${sx(t[k]).toFixed(1)},${sy(y[k]).toFixed(1)}`; });
  d += `L${sx(t[t.length - 1])},${CH - PAD}Z`;
  svg.innerHTML = `<path class="area" d="${d}"/><line class="cursor" id="chart-cursor" y1="0" y2="${CH}"/>` +
    `<text x="${PAD}" y="10">${Math.round(Math.max(...y)).toLocaleString()} ${chartUnit}</text>`;
  svg.dataset.series = chartKey;
  drawCursor();
}

// The cursor at the shown version.
export function drawCursor() {
  const c = $("chart-cursor");
  if (!c || page.index < 0) return;
  const hit = chartX.find((p) => p.id === page.versions[page.index].id);
  const x = hit ? hit.x : -10;
  c.setAttribute("x1", x); c.setAttribute("x2", x);
}

// The area series, once the map is up (the sides are known then: the picker gains their series).
export async function loadChart() {
  fillPicker();
  try { areaRows = chartRows = (await getJSON(areaSeriesUrl)).rows; drawChart(); }
  catch (e) { showError(e.message); }
}

// Show the series picked by value ("area", "front", "neck:ru", "settlements").
export async function showSeries(value) {
  const choice = seriesChoices()[value];
  if (!choice) { chartRows = areaRows; chartKey = "ru_km2"; chartUnit = "km²"; drawChart(); return; }
  $("chart").innerHTML = `<text x="${PAD}" y="70">loading ${choice[0].toLowerCase()}…</text>`;
  try {
    const body = await getJSON(`/api/series?${choice[1]}`);
    chartRows = body.rows; chartKey = body.key; chartUnit = body.unit;
  } catch (e) { showError(e.message); return; }
  drawChart();
}

// The series picker and clicks on the chart; pick(id) shows a version.
export function bindChart(pick) {
  $("chart-what").addEventListener("change", (ev) => showSeries(ev.target.value));
  $("chart").addEventListener("click", (ev) => {
    if (!chartX.length) return;
    const r = $("chart").getBoundingClientRect();
    const x = (ev.clientX - r.left) / r.width * CW;
    let best = chartX[0];
    for (const p of chartX) if (Math.abs(p.x - x) < Math.abs(best.x - x)) best = p;
    pick(best.id);
  });
}
