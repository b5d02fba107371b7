/* The map and its layers: creating it, the toggles, handing answers to sources and waiting for frames. */
import { page } from "./page.js";
import { FIRST_SOURCES, arrowImage, isFirst, makeStyle, textImage } from "./style.js";

// A toggle (checkbox data-layer) shows or hides one or more map layers.
export const GROUPS = {
  "ru-held": ["ru-held"], "ua-held": ["ua-held"], "contested": ["contested"],
  "contact": ["contact"], "corridors": ["pockets", "necks", "neck-labels"], "roads": ["roads"],
  "settlements": ["settlements", "settlement-labels", "settlement-changes", "settlement-change-labels"],
  "directions": ["directions"], "units": ["units"],
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
// set: when each answer was handed to the map (or found to be held already); loaded: when each source
// given new data had its tiles cut again (of the settlements' answer: "settlements" only when the set of
// places changed, "settlement-changes" when the places that changed hands did); frames: frames drawn
// since the step began; work (at the whole map idle): {frames, busy}, frames drawn and main-thread long
// tasks (ms) by then (read by bench/bench_web.py).
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

// The settlements are two sources. "settlements" holds the places labelled at the zoom asked for (the
// same set at every version of a view) and takes each version's statuses as feature-state: a slider
// step then sets the state of the few places whose status differs from the one shown, and MapLibre
// neither cuts nor lays out their tiles again (thousands of labelled points, the slowest source to cut).
// "settlement-changes" holds the places that changed hands in the version (a handful, with their
// previous status): always labelled, with a ring. Both are one answer to the page ("settlements").
const PLACES = "settlements", CHANGES = "settlement-changes";
const placeStatus = new Map();  // place id → the status it is drawn with (its feature-state)
let placesKey = null;           // the ids of the places the source holds, as text
const cutting = {};             // answer name → the sources given new data by its last put

// Hands a settlements answer to its two sources (see above); returns the sources given new data.
function putSettlements(fc) {
  const map = page.map, zoom = fc.zoom, places = [], changes = [];
  for (const f of fc.features) {
    if (f.properties.changed) changes.push(f);
    // a place that changed hands but is not labelled at this zoom is only in the changes
    if (zoom == null || f.properties.minzoom == null || f.properties.minzoom <= zoom || !f.properties.changed) {
      places.push(f);
    }
  }
  // feature-state needs whole-number ids; places of a gazetteer with others are drawn by their properties
  const byState = places.every((f) => Number.isSafeInteger(f.id) && f.id >= 0);
  const given = [], key = byState ? places.map((f) => f.id).join(",") : JSON.stringify(places);
  if (key !== placesKey) {
    map.getSource(PLACES).setData({ type: "FeatureCollection", features: places });
    placesKey = key;
    placeStatus.clear();
    given.push(PLACES);
  }
  for (const f of byState ? places : []) {
    const st = f.properties.status == null ? "none" : f.properties.status;
    if (placeStatus.get(f.id) === st) continue;
    map.setFeatureState({ source: PLACES, id: f.id }, { status: st });
    placeStatus.set(f.id, st);
  }
  const ck = JSON.stringify(changes);
  if (ck !== drawnKey[CHANGES]) {
    map.getSource(CHANGES).setData({ type: "FeatureCollection", features: changes });
    drawnKey[CHANGES] = ck;
    given.push(CHANGES);
  }
  return given;
}

// Hands a version's answer to a source, unless the source holds the same content already (the
// settlements, points and corridors of most versions are those of the previous one): MapLibre would
// cut and lay out every tile again for nothing. Returns whether the map was given anything new
// (waitLoaded(name) then waits for the sources whose tiles are cut again).
export function put(name, fc, vid) {
  const key = fc.digest ? "d:" + fc.digest : JSON.stringify(fc.features);
  const changed = key !== drawnKey[name];
  if (changed) {
    if (!page.map.getSource(name)) addLate();  // a step before the first idle map added the later layers
    if (name === PLACES) cutting[name] = putSettlements(fc);
    else {
      page.map.getSource(name).setData(name === "corridors" ? withNeckLabels(fc) : fc);
      cutting[name] = [name];
    }
    drawnKey[name] = key;
    const t0 = clock.t0;  // per source whose tiles are cut again (a feature-state change alone: none)
    for (const id of cutting[name]) {
      waitSource(id).then(() => { if (clock.t0 === t0) timing.loaded[id] = Math.round(performance.now() - t0); });
    }
  }
  shown[name] = vid;
  timing.set[name] = Math.round(performance.now() - clock.t0);
  return changed;
}

// Resolves once a source's tiles hold the data last handed to it (for an answer handed to several
// sources, put's: each source given new data by it; none, a feature-state change only: at once).
// (MapLibre's 'metadata' event comes before the tiles are even asked to reload: the map still shows the
// old data then.)
export function waitLoaded(name) {
  const ids = cutting[name] || [name];
  return Promise.all(ids.map(waitSource));
}
function waitSource(sourceId) {
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
