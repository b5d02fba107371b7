/* Frontline web map, the page's start: first requests, the map, the controls' wiring and window.frontline.
 * Layers: held ground, contact line, corridors with their width, roads by exposure, settlements by status,
 * attacks, units, claims coloured by verification status with a popup, geolocated events clustered; the
 * area chart, compare view, settlement search and the list of changes in the shown version.
 * First load: the data requests start before MapLibre (its WebGL start holds the main thread), the
 * first version's state is handed from that early request, and only the basemap, held ground and
 * points are in the first style; the other layers are added after the first idle map.
 * An optional raster tile URL comes from ?tiles=<url with {z}/{x}/{y}> (none by default: offline). */
import { $, mark, marks, page, showError } from "./page.js";
import { bordersUrl, early, EXTRA, pointsUrl, settlementsView, stateUrl, versionsUrl, view0 } from "../app.js";
import { boxes, createMap, flyTo, setVisible, shown, timing, visible } from "./layers.js";
import { parseHash, writeHash } from "./urlstate.js";
import { bindPopups } from "./popups.js";
import { bindSearch, search } from "./search.js";
import { bindChart, loadChart } from "./chart.js";
import { initSources } from "./sources.js";
import { bindCompare, fillCompare, runCompare } from "./compare.js";
import { extras, loadExtras, setTime, step, togglePlay } from "./timeline.js";

let readyResolve;
const ready = new Promise((r) => { readyResolve = r; });
const hash0 = parseHash();
const zoom0 = hash0.z !== undefined && !isNaN(Number(hash0.z)) ? Number(hash0.z) : 5.5;
view0.zoom = zoom0;

// Asked for at once, before MapLibre sets itself up (its WebGL start takes the main thread a while); the
// first version's state and points too, as soon as its id is known.
const firstData = Promise.all([early(versionsUrl), early(bordersUrl)]);
firstData.then(([vs]) => {
  const list = vs.versions || [];
  const first = list.find((v) => v.id === hash0.t) || list[list.length - 1];
  if (!first) return;
  const z = Math.max(0, Math.min(12, Math.ceil(zoom0))), at = encodeURIComponent(first.id);
  early(stateUrl(at, z)).catch(() => {});
  early(pointsUrl(at)).catch(() => {});
}).catch(() => {});

const map = createMap(hash0, zoom0, new URLSearchParams(location.search).get("tiles") || hash0.tiles || "");
bindPopups(map);
bindSearch();
const pick = (id) => setTime(id).catch((e) => showError(e.message));
bindChart(pick);
bindCompare();

$("prev").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
$("play").addEventListener("click", togglePlay);
$("slider").addEventListener("input", (e) => {
  const v = page.versions[Number(e.target.value)];
  if (v) pick(v.id);
});
document.addEventListener("keydown", (e) => {
  const tag = (e.target && e.target.tagName) || "";
  if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;  // the slider steps itself
  if (e.key === "ArrowLeft") { step(-1); e.preventDefault(); }
  if (e.key === "ArrowRight") { step(1); e.preventDefault(); }
});
for (const box of boxes()) {
  box.addEventListener("change", () => {
    setVisible(box.dataset.layer, box.checked);
    writeHash();
    if (box.checked && EXTRA[box.dataset.layer] && page.index >= 0) loadExtras();
  });
}
$("an-side").addEventListener("change", () => { writeHash(); if (page.index >= 0) loadExtras(); });
let lastBox = "";
map.on("moveend", () => {
  writeHash();
  // settlements follow the view once zoomed in (the most populous are sent when zoomed out)
  const box = settlementsView();
  if (visible("settlements") && page.index >= 0 && box !== lastBox) {
    lastBox = box;
    loadExtras(["settlements"]);
  }
});

// The side pickers and toggles from the versions' answer and the URL.
function setUp(vs, h) {
  const sides = vs.sides || ["ru", "ua"];
  page.sides = sides;
  $("slider").max = String(page.versions.length - 1);
  $("cmp-side").innerHTML = sides.map((s) => `<option>${s}</option>`).join("");
  $("an-side").innerHTML = sides.map((s) => `<option>${s}</option>`).join("");
  $("an-side").value = sides.includes("ua") ? "ua" : sides[0];
  if (h.side) $("cmp-side").value = h.side;
  if (h.as && sides.includes(h.as)) $("an-side").value = h.as;
  const on = h.layers !== undefined ? new Set(h.layers.split(",")) : null;
  for (const box of boxes()) {
    if (on) box.checked = on.has(box.dataset.layer);
    setVisible(box.dataset.layer, box.checked);
  }
}

async function init() {
  await new Promise((r) => (map.loaded() ? r() : map.once("load", r)));
  mark("map-load");
  const [vs, borders] = await firstData;
  mark("versions");
  // the basemap goes in with the first version's ground (setTime), so the tiles are laid out once
  map.getSource("borders").setData(borders);
  page.versions = vs.versions;
  if (!page.versions.length) { showError("The store holds no versions."); return; }
  const h = parseHash();
  setUp(vs, h);
  const start = page.versions.find((v) => v.id === h.t) || page.versions[page.versions.length - 1];
  await setTime(start.id);
  // ms from navigation start to the first idle map with the version drawn (read by bench/bench_web.py)
  document.body.dataset.firstIdleMs = String(Math.round(performance.now()));
  await fillCompare(h.cmp);
  await loadChart();
  await initSources().catch((e) => showError(e.message));
}

window.frontline = { map, setTime, ready, versions: () => page.versions, compare: runCompare, search, flyTo,
                     extras, timing, marks, shown: () => ({ ...shown }) };
init().then(readyResolve, (e) => { showError(e.message); readyResolve(); });
