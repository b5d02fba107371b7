/* The API as the page asks it: the URL of every answer, fetches, the kept answers and the prefetch lanes.
 * Every `/api/...` URL the page builds is written here (tests/test_web_api.py checks them against the
 * routes' declared parameters). Version-addressed answers never change, so they are kept parsed. */
import { page, anSide } from "./js/page.js";

export const EVENT_DAYS = 30;

// Layers fetched per version, only while shown: url builder and source name.
// (at: the version id, encoded; v: the version {id, time}; view: settlementsView's query)
export const EXTRA = {
  contact: (at) => `/api/contact-line?at=${at}`,
  corridors: (at) => `/api/corridors?at=${at}&side=${encodeURIComponent(anSide())}`,
  roads: (at) => `/api/roads?at=${at}&side=${encodeURIComponent(anSide())}`,
  settlements: (at) => `/api/settlements?at=${at}` + settlementsView(),
  // claims published by the shown date (status: checked against the whole history)
  claims: (at, v) => `/api/claims?at=${encodeURIComponent(v.time)}`,
  // events of the EVENT_DAYS days up to the shown date
  events: (at, v) => `/api/events?from=${encodeURIComponent(new Date(Date.parse(v.time) - EVENT_DAYS * 864e5)
    .toISOString().replace(".000Z", "Z"))}&to=${encodeURIComponent(v.time)}`,
};
export const LISTINGS = new Set(["claims", "events"]);  // not version-addressed: never prefetched

export const versionsUrl = "/api/versions";
export const bordersUrl = "/api/borders";
export const stateUrl = (at, z) => `/api/state?at=${at}&zoom=${z}`;
export const pointsUrl = (at) => `/api/points?at=${at}`;
// the changes of version j against the one before it (the list of advances)
export const changeUrl = (j) => `/api/change?from=${encodeURIComponent(page.versions[j - 1].id)}` +
  `&to=${encodeURIComponent(page.versions[j].id)}&top=8`;
export const compareUrl = (a, b) => `/api/change?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`;
export const searchUrl = (q) => `/api/settlements/search?q=${encodeURIComponent(q)}&limit=8`;
export const areaSeriesUrl = "/api/areas?region=home:ua";

// The zoom the page opens at (before the map exists), set by main.js from the URL.
export const view0 = { zoom: 5.5 };

export function settlementsView() {
  // The places whose label has room one zoom in (labels at the map's zoom, the next ones as dots) and
  // those that changed hands; zoomed in, only those in view. Zoomed out the answer is the whole theatre
  // per zoom: one URL per version, so neighbours are prefetched and steps hit the cache.
  const map = page.map, z = map ? map.getZoom() : view0.zoom, zq = `&zoom=${Math.floor(z) + 1}&limit=5000`;
  if (!map || z < 8) return zq;
  const b = map.getBounds(), r = (v) => v.toFixed(1);  // a coarse box: panning a little keeps the URL
  return zq + `&bbox=${r(Math.max(-180, b.getWest() - 0.1))},${r(Math.max(-90, b.getSouth() - 0.1))},` +
    `${r(Math.min(180, b.getEast() + 0.1))},${r(Math.min(90, b.getNorth() + 0.1))}`;
}

// Requests started before they are needed (the first load): getJSON hands out their answer once.
const pending = new Map();
export function early(url) { if (!pending.has(url)) pending.set(url, getJSON(url)); return pending.get(url); }

export async function getJSON(url, opts) {
  const ahead = pending.get(url);
  if (ahead) { pending.delete(url); return ahead; }
  const r = await fetch(url, opts);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.detail || (url + ": HTTP " + r.status));
  return body;
}

// Version-addressed answers never change: the last KEEP of them are kept parsed here, so a step to a
// prefetched version neither fetches nor parses (a fetch from the HTTP cache still waits for the
// main thread, 100–200 ms while frames are drawn in software GL). Entries asked for by a prefetch are
// "low": they are aborted when the user moves somewhere they are no longer a neighbour of.
const KEEP = 64;
const kept = new Map();  // url → {p: Promise, ctrl: AbortController | null (done), low: boolean}
export function ask(url, low = false) {
  let e = kept.get(url);
  if (e) {
    kept.delete(url); kept.set(url, e);  // most recently used last
    if (!low) e.low = false;  // the shown version needs it now: never aborted
    return e.p;
  }
  e = { ctrl: new AbortController(), low };
  e.p = getJSON(url, { signal: e.ctrl.signal, priority: low ? "low" : "high" }).then(
    (body) => { e.ctrl = null; e.body = body; return body; },
    (err) => { if (kept.get(url) === e) kept.delete(url); throw err; });
  kept.set(url, e);
  for (const [k, old] of kept) {  // oldest first; one still being fetched for the shown version stays
    if (kept.size <= KEEP) break;
    if (old.ctrl && !old.low) continue;
    if (old.ctrl) old.ctrl.abort();
    kept.delete(k);
  }
  return e.p;
}

// The answer of url when it is in memory already (fetched and parsed), else undefined.
export function inMemory(url) {
  const e = kept.get(url);
  return e && !e.ctrl ? e.body : undefined;
}

// Prefetches run PREFETCH_LANES at a time, in the order asked (nearest neighbour first), at low
// priority, and start only once the shown version's own answers are in, so they never queue in front
// of them at the server (its analyses take turns on one lock).
const PREFETCH_LANES = 2;
let queue = [], lanes = 0;
// Aborts the prefetches not in urls (the user moved on: they are no neighbours any more); add: queue
// those of urls not fetched yet, else only those already queued and still wanted go on. own: the shown
// version's answers; given, the fetches of a superseded step (neither in urls nor in own) are aborted
// too, so a fast slider drag does not leave the server working through every version passed over.
export function prefetchOnly(urls, add = true, own = null) {
  const want = new Set(urls), mine = new Set(own || []);
  for (const [u, e] of kept) {
    if (e.ctrl && !want.has(u) && (e.low || (own && !mine.has(u)))) { e.ctrl.abort(); kept.delete(u); }
  }
  queue = add ? urls.filter((u) => !kept.has(u)) : queue.filter((u) => want.has(u));
  pump();
}
function pump() {
  while (lanes < PREFETCH_LANES && queue.length) {
    const u = queue.shift();
    if (kept.has(u)) continue;
    lanes++;
    ask(u, true).catch(() => {}).finally(() => { lanes--; pump(); });
  }
}
