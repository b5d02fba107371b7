/* The map and its layers: creating it, the toggles, handing answers to sources and waiting for frames. */
import { page } from "./page.js";
import { FIRST_SOURCES, arrowImage, isFirst, makeStyle, textImage } from "./style.js";

// A toggle (checkbox data-layer) shows or hides one or more map layers.
export const GROUPS = {
  "ru-held": ["ru-held"], "ua-held": ["ua-held"], "contested": ["contested"],
  "contact": ["contact"], "corridors": ["pockets", "necks", "neck-labels"], "roads": ["roads"],
  "settlements": ["settlements", "settlement-labels"], "directions": ["directions"], "units": ["units"],
  "claims": ["claim-areas", "claim-lines", "claim-points"],
  "events": ["event-clusters", "event-counts", "events"],
};
export const TOGGLES = Object.keys(GROUPS);
export const boxes = () => document.querySelectorAll("#layers input[data-layer]");

let STYLE = null;  // the whole style (makeStyle); the map starts with its first-picture part

// The map at the URL's view, with only the first picture's sources and layers.
export function createMap(hash0, zoom0, tiles) {
  STYLE = makeStyle(tiles);
  const map = new maplibregl.Map({
    container: "map",
    center: [Number(hash0.lon) || 36.5, Number(hash0.lat) || 49.0],
    zoom: zoom0,
    attributionControl: false,
    fadeDuration: 0,  // labels appear at once: 'idle' (a drawn version) comes 300 ms sooner
    style: {
      version: 8,
      sources: Object.fromEntries(Object.entries(STYLE.sources).filter(([k]) => FIRST_SOURCES.has(k))),
      layers: STYLE.layers.filter(isFirst),
    },
  });
  page.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.on("styleimagemissing", (e) => {
    if (!/^txtb?:/.test(e.id) || map.hasImage(e.id)) return;
    const big = e.id.startsWith("txtb:");  // "txtb:" for the neck widths: the point of the map
    const t = big ? textImage(e.id.slice(5), 16) : textImage(e.id.slice(4));
    map.addImage(e.id, t.image, { pixelRatio: t.pixelRatio });
  });
  map.once("load", () => map.addImage("arrow", arrowImage(), { pixelRatio: 2 }));
  map.on("render", () => { timing.frames++; idleNow = false; });
  map.on("idle", () => { idleNow = true; });
  return map;
}

let lateAdded = false;
export function addLate() {
  // every later layer goes below the first-picture layer that follows it in STYLE, so the order is STYLE's
  if (lateAdded) return;
  lateAdded = true;
  const map = page.map;
  for (const [k, src] of Object.entries(STYLE.sources)) if (!FIRST_SOURCES.has(k)) map.addSource(k, src);
  STYLE.layers.forEach((layer, i) => {
    if (isFirst(layer)) return;
    const next = STYLE.layers.slice(i + 1).find(isFirst);
    map.addLayer(layer, next ? next.id : undefined);
  });
  for (const box of boxes()) setVisible(box.dataset.layer, box.checked);
}

export function visible(group) {
  const layer = (GROUPS[group] || [group])[0];
  if (!page.map.getLayer(layer)) {  // not added yet (see addLate): its checkbox says
    const box = document.querySelector(`#layers input[data-layer="${group}"]`);
    return Boolean(box && box.checked);
  }
  return page.map.getLayoutProperty(layer, "visibility") !== "none";
}

export function setVisible(group, on) {
  for (const layer of GROUPS[group] || [group]) {
    if (page.map.getLayer(layer)) page.map.setLayoutProperty(layer, "visibility", on ? "visible" : "none");
  }
}

function withNeckLabels(fc) {
  // A label point at the middle of each neck segment, carrying the width ("420 m").
  const out = fc.features.slice();
  for (const f of fc.features) {
    if (f.properties.kind !== "neck" || f.geometry.type !== "LineString") continue;
    const c = f.geometry.coordinates, a = c[0], b = c[c.length - 1];
    out.push({ type: "Feature", properties: { ...f.properties, kind: "neck-label" },
               geometry: { type: "Point", coordinates: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] } });
  }
  return { ...fc, features: out };
}

// Timing of the last setTime, ms: to the new held ground drawn, to the map idle (points too), and to
// the whole map idle (every shown analysis layer drawn with this version's data, the map idle);
// set: when each source was handed its answer (or found to hold it already); loaded: when each source
// given new data had its tiles cut again; frames: frames drawn since the step began; work (at the whole
// map idle): {frames, busy}, frames drawn and main-thread long tasks (ms) by then (read by bench/bench_web.py).
export const timing = { drawn: null, idle: null, all: null, set: {}, loaded: {}, frames: 0, work: {} };
export const clock = { t0: 0 };  // when the last setTime began

// Main-thread tasks over 50 ms (Chromium's long tasks): frames in software GL, JSON parsing, layout.
const longTasks = [];
const keepTasks = (entries) => {
  longTasks.push(...entries.map((e) => [e.startTime, e.duration]));
  if (longTasks.length > 500) longTasks.splice(0, longTasks.length - 500);
};
const observer = typeof PerformanceObserver !== "undefined" &&
  (PerformanceObserver.supportedEntryTypes || []).includes("longtask")
  ? new PerformanceObserver((list) => keepTasks(list.getEntries())) : null;
if (observer) observer.observe({ type: "longtask" });
// A new step: its counters start from zero.
export function startClock() {
  clock.t0 = performance.now();
  Object.assign(timing, { drawn: null, idle: null, all: null, set: {}, loaded: {}, frames: 0, work: {} });
  return clock.t0;
}
// The frames and long tasks of the step so far, into timing (at the whole map idle).
export function countWork() {
  if (observer) keepTasks(observer.takeRecords());  // those not handed to the callback yet
  const busy = longTasks.filter(([t]) => t >= clock.t0).reduce((a, [, d]) => a + d, 0);
  timing.work = { frames: timing.frames, busy: Math.round(busy) };
}
export const shown = {};     // source → the version whose data it holds (read by the tests and the bench)
const drawnKey = {};  // source → what it holds: the server's digest, else the features' JSON text

// Sources whose features keep their id from version to version (the settlements: the gazetteer's
// places) are handed a diff when few places differ: MapLibre then cuts again only the tiles where one
// changed, instead of laying out thousands of labelled points for a handful of new statuses.
const DIFFED = new Set(["settlements"]);
const heldIds = {};  // DIFFED source → Map(feature id → its properties and position as text)

// What to hand source name for fc: {remove, add} when it is a small diff from what it holds, else null.
function smallDiff(name, fc) {
  const now = new Map(), add = [], old = heldIds[name];
  for (const f of fc.features) {
    if (f.id == null) { delete heldIds[name]; return null; }
    const k = JSON.stringify(f.properties) + f.geometry.coordinates;
    now.set(f.id, k);
    if (old && old.get(f.id) !== k) add.push(f);
  }
  heldIds[name] = now;
  if (!old) return null;
  const remove = [];
  for (const id of old.keys()) if (!now.has(id)) remove.push(id);
  return add.length + remove.length <= fc.features.length / 4 ? { remove, add } : null;
}

// Hands a version's answer to a source, unless the source holds the same content already (the
// settlements, points and corridors of most versions are those of the previous one): MapLibre would
// cut and lay out every tile again for nothing. Returns whether the source was given new data.
export function put(name, fc, vid) {
  const key = fc.digest ? "d:" + fc.digest : JSON.stringify(fc.features);
  const changed = key !== drawnKey[name];
  if (changed) {
    if (!page.map.getSource(name)) addLate();  // a step before the first idle map added the later layers
    const src = page.map.getSource(name), diff = DIFFED.has(name) ? smallDiff(name, fc) : null;
    if (diff) src.updateData(diff);
    else src.setData(name === "corridors" ? withNeckLabels(fc) : fc);
    drawnKey[name] = key;
    const t0 = clock.t0;
    waitLoaded(name).then(() => { if (clock.t0 === t0) timing.loaded[name] = Math.round(performance.now() - t0); });
  }
  shown[name] = vid;
  timing.set[name] = Math.round(performance.now() - clock.t0);
  return changed;
}

// Resolves once a source's tiles hold the data last handed to it. (MapLibre's 'metadata' event comes
// before the tiles are even asked to reload: the map still shows the old data then.)
export function waitLoaded(sourceId) {
  const map = page.map;
  return new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; map.off("sourcedata", onData); resolve(); } };
    const onData = (e) => {
      if (e.sourceId === sourceId && e.sourceDataType !== "metadata" && map.isSourceLoaded(sourceId)) finish();
    };
    map.on("sourcedata", onData);
    setTimeout(finish, 5000);
  });
}

// Whether the map has been idle since its last frame ('idle' fires inside the frame that needs no other:
// a wait begun after it would otherwise ask for one more frame, 100–400 ms in software GL).
let idleNow = false;
// Resolves at the next 'idle' (every source loaded, nothing left to draw), at once when the map is idle
// already. When nothing is pending (every answer was the same as drawn) one frame is asked for, so
// 'idle' still comes.
export function waitIdle() {
  const map = page.map;
  if (idleNow && map.loaded()) return Promise.resolve();
  return new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; resolve(); } };
    map.once("idle", finish);
    if (map.loaded()) map.triggerRepaint();
    setTimeout(finish, 5000);
  });
}

// Holds MapLibre's frames back until `until` settles (at most maxMs from the first hold): a frame costs
// the main thread 100–400 ms in software GL, and while it is drawn the tiles cut meanwhile wait for it
// before their own frame, so a step draws the new ground and the analysis layers handed with it in one
// frame instead of one per source. Holds taken while one is on are added to it: the frames come back
// once every one has settled. Tiles still load meanwhile (MapLibre asks for them from its data events,
// not from a frame); the repaints asked for are replayed.
let held = null;  // {pending, asked, timer} while frames are held
export function holdFrames(until, maxMs = 1000) {
  const map = page.map;
  if (!held) {
    const h = { pending: 0, asked: false, timer: 0 };
    map.triggerRepaint = () => { h.asked = true; };
    h.timer = setTimeout(() => releaseFrames(h), maxMs);
    held = h;
  }
  const h = held;
  h.pending++;
  const done = () => { if (--h.pending === 0) releaseFrames(h); };
  Promise.resolve(until).then(done, done);
}
function releaseFrames(h) {
  if (held !== h) return;
  held = null;
  clearTimeout(h.timer);
  delete page.map.triggerRepaint;  // MapLibre's own again
  if (h.asked) page.map.triggerRepaint();
}

export const nextFrame = () => new Promise((resolve) => { page.map.once("render", resolve); page.map.triggerRepaint(); });

// Moves the view to a place (a bbox when it has one) and says so in body[data-flown] once there.
export function flyTo(lonlat, bbox, tag) {
  const map = page.map;
  map.once("moveend", () => { document.body.dataset.flown = tag; });
  delete document.body.dataset.flown;
  if (bbox && bbox[2] - bbox[0] > 0.02) {
    map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 40, maxZoom: 12, duration: 600 });
  } else {
    map.flyTo({ center: lonlat, zoom: Math.max(map.getZoom(), 11), duration: 600 });
  }
}
