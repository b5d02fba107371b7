/* The page's shared state (map, versions, shown index) and the small DOM helpers every module uses.
 * ES module bindings are read-only to importers, so what changes lives in the one object `page`. */

export const page = {
  map: null,         // the maplibregl.Map (main.js)
  versions: [],      // [{id, time, revision}]
  index: -1,         // the shown version
  seq: 0,            // the current move: answers of an older one are dropped
  compare: null,     // [a, b] version ids shown in the compare view
  sides: ["ua", "ru"],
};

export const $ = (id) => document.getElementById(id);

export function showError(msg) { const e = $("error"); e.textContent = msg; e.hidden = !msg; }

export const empty = () => ({ type: "FeatureCollection", features: [] });

export const fmt = (v) => Number(v).toLocaleString(undefined, { maximumFractionDigits: 1 });

// ms since navigation start at the steps of the first load (read by bench/bench_web.py)
export const marks = { script: Math.round(performance.now()) };
export const mark = (name) => { if (!(name in marks)) marks[name] = Math.round(performance.now()); };

// The side whose corridors and roads are shown.
export const anSide = () => $("an-side").value || "ua";
