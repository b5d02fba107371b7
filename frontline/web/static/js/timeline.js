/* The time slider: showing a version (setTime), steps, play, and prefetching the neighbours.
 * A step asks for every answer the version shows at once (a superseded step's fetches are aborted);
 * answers are kept parsed (app.js), a source holding the same content is left alone, and once the
 * version's own answers are in the neighbours are prefetched at low priority (stale ones aborted).
 * The held ground goes to MapLibre first, with no frame drawn until its tiles are cut; the analysis
 * layers whose answers are in hand follow at once and are drawn in the same frame (the settlements'
 * statuses as feature-state: no tile laid out again); those still on their way are drawn as they come. */
import { $, mark, page, showError } from "./page.js";
import { EXTRA, LISTINGS, ask, changeUrl, getJSON, inMemory, pointsUrl, prefetchOnly, stateUrl } from "../app.js";
import { addLate, clock, countWork, holdFrames, nextFrame, put, startClock, timing, visible, waitIdle, waitLoaded }
  from "./layers.js";
import { drawCursor } from "./chart.js";
import { loadChanges } from "./changes.js";
import { writeHash } from "./urlstate.js";

const zoomBucket = () => Math.max(0, Math.min(12, Math.ceil(page.map.getZoom())));
let dir = 1;  // the direction of the last step (+1 later, -1 earlier): that neighbour is prefetched first

// The answers of the shown analysis layers (all by default) for version v: {name: Promise}.
function extrasFor(v, names = Object.keys(EXTRA).filter(visible)) {
  const at = encodeURIComponent(v.id), out = {};
  for (const n of names) {
    out[n] = LISTINGS.has(n) ? getJSON(EXTRA[n](at, v)) : ask(EXTRA[n](at, v));
    out[n].catch(() => {});  // reported where it is drawn
  }
  return out;
}

const notes = {};
let extrasDone = Promise.resolve();
export const extras = () => extrasDone;
// How long the frame of a step's new ground may wait, once its tiles are cut, for the analysis layers
// handed with it (ms): one frame for the whole step instead of one per layer (each 100–400 ms in
// software GL), without a slow layer holding the ground back.
const EXTRAS_WAIT = 200;
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// Whether version v's answer for layer n is in memory (prefetched): a step hands it with the ground.
function inHand(v, n) {
  return !LISTINGS.has(n) && inMemory(EXTRA[n](encodeURIComponent(v.id), v)) !== undefined;
}

// Each layer is handed its answer as it comes, not before `after` (a step: the new ground's tiles are
// cut), and frames are held until its tiles are cut (answers that come together are drawn in one
// frame), except for the layers in `covered`, which the caller's hold covers. Then, once the map is
// idle, timing.all (for a step) and body[data-layers] say the whole map shows the version. Returns
// {name: Promise} settling once that layer's tiles hold its answer.
function drawExtras(my, answers, step = false, after = null, covered = new Set()) {
  const names = Object.keys(answers), vid = page.versions[page.index].id, cut = {};
  for (const n of names) {
    cut[n] = answers[n].then(async (fc) => {
      if (after) await after;
      if (my !== page.seq) return;
      addLate();
      // numeric claims have no place on the map
      const given = put(n, n === "claims" ? { ...fc, features: fc.features.filter((f) => f.geometry) } : fc, vid);
      notes[n] = fc.note || "";
      $("layer-notes").textContent = Object.values(notes).filter(Boolean).join(" ");
      if (!given) return;
      const loaded = waitLoaded(n);
      if (!covered.has(n)) holdFrames(loaded);
      await loaded;
    }).catch((e) => { if (my === page.seq) showError(e.message); });
  }
  extrasDone = Promise.all(Object.values(cut)).then(async () => {
    if (my !== page.seq) return;
    await waitIdle();
    if (my !== page.seq) return;
    if (step) { timing.all = performance.now() - clock.t0; countWork(); }
    document.body.dataset.layers = vid + ":" + names.join(",");
  });
  return cut;
}

// Draws the shown version's analysis layers again (all shown ones, or those named): a toggle, a side, a view.
export function loadExtras(names) {
  if (page.index < 0) return Promise.resolve();
  drawExtras(page.seq, extrasFor(page.versions[page.index], names));
  return extrasDone;
}

// The neighbours of the shown version are fetched ahead (the next one in the direction of the last
// step first, then the one after, then the previous): version-addressed answers never change, so a
// slider step only has to draw.
function neighbourUrls(i, z) {
  const urls = [], versions = page.versions;
  for (const j of [i + dir, i + 2 * dir, i - dir]) {
    if (j < 0 || j >= versions.length) continue;
    const v = versions[j], at = encodeURIComponent(v.id);
    // the analyses (one lock at the server, slow on request) interleaved with the ground and points
    // (the state path: a lock of its own), so that the two lanes keep both busy
    const an = Object.keys(EXTRA).filter((n) => !LISTINGS.has(n) && visible(n)).map((n) => EXTRA[n](at, v));
    const other = [stateUrl(at, z), pointsUrl(at)];
    if (j > 0) an.push(changeUrl(j));
    while (an.length || other.length) {
      if (an.length) urls.push(an.shift());
      if (other.length) urls.push(other.shift());
    }
  }
  return urls;
}
const prefetch = (i, z) => prefetchOnly(neighbourUrls(i, z));

// The version's label, slider and chart cursor, URL and list of changes.
function showLabels(my, i) {
  const v = page.versions[i];
  $("slider").value = String(i);
  $("when").textContent = v.time.replace("T", " ").replace(":00Z", " UTC") + `  (${i + 1}/${page.versions.length})`;
  drawCursor();
  writeHash();
  loadChanges(my);
}

// Asks for everything version i shows at once (prefetched answers come from memory: on a version not
// fetched before the server works on the analyses while the ground is drawn), aborts the fetches of an
// earlier step and the prefetches of places that are no neighbours any more (this version's own answers
// never are), and prefetches the new neighbours once its own answers are in. Returns the promises.
function askAll(my, i, z) {
  const v = page.versions[i], at = encodeURIComponent(v.id);
  const answers = extrasFor(v), own = [stateUrl(at, z), pointsUrl(at)];
  const ground = Promise.all(own.map((u) => ask(u)));
  for (const n of Object.keys(answers)) if (!LISTINGS.has(n)) own.push(EXTRA[n](at, v));
  if (i > 0) { own.push(changeUrl(i)); ask(changeUrl(i)).catch(() => {}); }  // the changes list (loadChanges)
  prefetchOnly(neighbourUrls(i, z), false, own);
  Promise.allSettled([ground, ...Object.values(answers)]).then(() => { if (my === page.seq) prefetch(i, z); });
  return { ground, answers };
}

// Shows version id: resolves once its held ground is drawn and the map is idle (analysis layers: extras()).
export async function setTime(id) {
  const versions = page.versions, i = versions.findIndex((v) => v.id === String(id));
  if (i < 0) throw new Error("unknown version " + id);
  const my = ++page.seq, t0 = startClock();
  if (page.index >= 0 && Math.abs(i - page.index) === 1) dir = i - page.index;
  const v = versions[i];
  const { ground, answers } = askAll(my, i, zoomBucket());
  let state, points;
  try { [state, points] = await ground; } catch (e) {
    if (my !== page.seq) return;  // aborted: a later step supersedes this one
    throw e;
  }
  mark("state-fetched");
  if (my !== page.seq) return;
  const first = page.index < 0;
  page.index = i;
  // The held ground first: MapLibre cuts every GeoJSON source's tiles in one worker (Chrome), in the
  // order handed, so an analysis layer handed with it (settlements: thousands of labelled points) would
  // be cut before it. The analysis layers follow as soon as the ground's tiles are in. The points are
  // small and their arrows need icons from the main thread, so they go along. On the first load the
  // analysis layers wait for the first idle map (the first picture comes sooner).
  const pointsCut = put("points", points, v.id) ? waitLoaded("points") : Promise.resolve();
  const loaded = put("state", state, v.id) ? waitLoaded("state") : Promise.resolve();
  // No frame of the old ground while the new one's tiles are cut, nor one per analysis layer whose
  // answer is in hand: they are cut right after the ground and drawn in its frame (EXTRAS_WAIT at most).
  const ready = first ? [] : Object.keys(answers).filter((n) => inHand(v, n));
  const cut = first ? {} : drawExtras(my, answers, true, loaded, new Set(ready));
  const withGround = Promise.all([pointsCut, ...ready.map((n) => cut[n])]);
  holdFrames(Promise.all([loaded, Promise.race([withGround, loaded.then(() => delay(EXTRAS_WAIT))])]));
  showLabels(my, i);
  await loaded;
  if (my !== page.seq) return;
  await nextFrame();  // the held ground of this version is on screen (the first frame after the hold)
  if (my !== page.seq) return;
  timing.drawn = performance.now() - t0;
  mark("drawn");
  await waitIdle();
  timing.idle = performance.now() - t0;
  if (my === page.seq) {
    if (first) drawExtras(my, answers, true);
    document.body.dataset.version = v.id;
  }
}

export function step(d) {
  const versions = page.versions;
  if (!versions.length) return Promise.resolve();
  const i = Math.max(0, Math.min(versions.length - 1, page.index + d));
  return i === page.index ? Promise.resolve() : setTime(versions[i].id).catch((e) => showError(e.message));
}

let playing = null;
export function togglePlay() {
  if (playing) { clearInterval(playing); playing = null; $("play").textContent = "▶"; return; }
  $("play").textContent = "❚❚";
  playing = setInterval(() => {
    if (page.index >= page.versions.length - 1) setTime(page.versions[0].id); else step(1);
  }, 1200);
}
