/* Frontline web map: offline MapLibre style, time slider, layers (held ground, contact line,
 * corridors with their width, roads by exposure, settlements by status, attacks, units, claims coloured
 * by verification status with a popup, geolocated events clustered), area chart, compare view,
 * settlement search and the list of changes in the shown version.
 * First load: the data requests start before MapLibre (its WebGL start holds the main thread), the
 * first version's state is handed from that early request, and only the basemap, held ground and
 * points are in the first style; the other layers are added after the first idle map.
 * A step (setTime): every answer the version shows is asked for at once and handed to MapLibre together,
 * ground first; answers are kept parsed (the last 64), a source holding the same content is left alone,
 * and once the whole map is drawn the neighbours are prefetched at low priority (stale ones aborted).
 * State lives in the URL hash: #t=<version id>&z=&lon=&lat=&layers=a,b&as=ua&cmp=a,b&side=ru
 * An optional raster tile URL comes from ?tiles=<url with {z}/{x}/{y}> (none by default: offline). */
(function () {
  "use strict";
  // A toggle (checkbox data-layer) shows or hides one or more map layers.
  const GROUPS = {
    "ru-held": ["ru-held"], "ua-held": ["ua-held"], "contested": ["contested"],
    "contact": ["contact"], "corridors": ["pockets", "necks", "neck-labels"], "roads": ["roads"],
    "settlements": ["settlements", "settlement-labels"], "directions": ["directions"], "units": ["units"],
    "claims": ["claim-areas", "claim-lines", "claim-points"],
    "events": ["event-clusters", "event-counts", "events"],
  };
  const TOGGLES = Object.keys(GROUPS);
  // Layers fetched per version, only while shown: url builder and source name.
  // (at: the version id, encoded; v: the version {id, time})
  const EXTRA = {
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
  const LISTINGS = new Set(["claims", "events"]);  // not version-addressed: never prefetched
  const EVENT_DAYS = 30;
  // Claim status → colour (frontline.analysis.claims); unchecked: not verified yet.
  const CLAIM_COLOURS = {
    confirmed: "#1a9850", premature: "#f1c40f", contradicted: "#d73027", pending: "#00bcd4",
    unresolved: "#d81b9b", no_data: "#9e9e9e", unchecked: "#ffffff",
  };
  const CLAIM_COLOUR = ["match", ["coalesce", ["get", "status"], "unchecked"],
    ...Object.entries(CLAIM_COLOURS).flat(), "#ffffff"];
  const EVENT_COLOURS = { equipment_loss: "#6a3d9a", strike: "#e6550d", clash: "#b15928", other: "#636363" };
  const EVENT_COLOUR = ["match", ["coalesce", ["get", "type"], "other"], ...Object.entries(EVENT_COLOURS).flat(),
    "#636363"];
  const STATUS_COLOURS = ["match", ["coalesce", ["get", "status"], "none"],
    "ua", "#2b6cb0", "ru", "#d7301f", "contested", "#888888", "#ffffff"];
  const $ = (id) => document.getElementById(id);
  // ms since navigation start at the steps of the first load (read by bench/bench_web.py)
  const marks = { script: Math.round(performance.now()) };
  const mark = (name) => { if (!(name in marks)) marks[name] = Math.round(performance.now()); };
  const empty = () => ({ type: "FeatureCollection", features: [] });
  let versions = [];       // [{id, time, revision}]
  let index = -1;          // shown version
  let seq = 0;             // ignores stale responses
  let playing = null;
  let compare = null;      // [a, b] version ids
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });

  function showError(msg) { const e = $("error"); e.textContent = msg; e.hidden = !msg; }

  // Requests started before they are needed (the first load): getJSON hands out their answer once.
  const pending = new Map();
  function early(url) { if (!pending.has(url)) pending.set(url, getJSON(url)); return pending.get(url); }

  async function getJSON(url, opts) {
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
  function ask(url, low = false) {
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

  // The answer to url if it is here already (no waiting), else undefined.
  const peek = (url) => { const e = kept.get(url); return e && e.body; };

  // Prefetches run PREFETCH_LANES at a time, in the order asked (nearest neighbour first), at low
  // priority, and start only once the shown version's own answers are in, so they never queue in front
  // of them at the server (its analyses take turns on one lock).
  const PREFETCH_LANES = 2;
  let queue = [], lanes = 0;
  // Aborts the prefetches not in urls (the user moved on: they are no neighbours any more); add: queue
  // those of urls not fetched yet, else only those already queued and still wanted go on.
  function prefetchOnly(urls, add = true) {
    const want = new Set(urls);
    for (const [u, e] of kept) {
      if (e.ctrl && e.low && !want.has(u)) { e.ctrl.abort(); kept.delete(u); }
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

  function parseHash() {
    const h = {};
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      if (!part) continue;
      const i = part.indexOf("=");
      h[decodeURIComponent(i < 0 ? part : part.slice(0, i))] = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
    }
    return h;
  }

  function writeHash() {
    if (!map || index < 0) return;
    const c = map.getCenter();
    const parts = [
      "t=" + encodeURIComponent(versions[index].id),
      "z=" + map.getZoom().toFixed(2),
      "lon=" + c.lng.toFixed(4),
      "lat=" + c.lat.toFixed(4),
      "layers=" + TOGGLES.filter(visible).join(","),
      "as=" + encodeURIComponent(anSide()),
    ];
    if (compare) parts.push("cmp=" + compare.join(","), "side=" + $("cmp-side").value);
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  function visible(group) {
    const layer = (GROUPS[group] || [group])[0];
    if (!map.getLayer(layer)) {  // not added yet (see addLate): its checkbox says
      const box = document.querySelector(`#layers input[data-layer="${group}"]`);
      return Boolean(box && box.checked);
    }
    return map.getLayoutProperty(layer, "visibility") !== "none";
  }

  function setVisible(group, on) {
    for (const layer of GROUPS[group] || [group]) {
      if (map.getLayer(layer)) map.setLayoutProperty(layer, "visibility", on ? "visible" : "none");
    }
  }

  function anSide() { return $("an-side").value || "ua"; }

  function settlementsView() {
    // The places whose label has room one zoom in (labels at the map's zoom, the next ones as dots) and
    // those that changed hands; zoomed in, only those in view. Zoomed out the answer is the whole theatre
    // per zoom: one URL per version, so neighbours are prefetched and steps hit the cache.
    const z = map ? map.getZoom() : zoom0, zq = `&zoom=${Math.floor(z) + 1}&limit=5000`;
    if (!map || z < 8) return zq;
    const b = map.getBounds(), r = (v) => v.toFixed(1);  // a coarse box: panning a little keeps the URL
    return zq + `&bbox=${r(Math.max(-180, b.getWest() - 0.1))},${r(Math.max(-90, b.getSouth() - 0.1))},` +
      `${r(Math.min(180, b.getEast() + 0.1))},${r(Math.min(90, b.getNorth() + 0.1))}`;
  }

  // Text drawn into images on demand ("txt:<text>"): labels need no glyph server, so the map stays offline.
  function textImage(text, size = 12) {
    // drawn at the screen's pixel ratio: a 2× image on a 1× screen is four times the pixels to pack per tile
    const scale = Math.max(1, Math.min(2, Math.round(window.devicePixelRatio || 1))), font = `${size > 12 ? 700 : 600} ${size * scale}px system-ui, sans-serif`;
    const c = document.createElement("canvas"), g = c.getContext("2d");
    g.font = font;
    const w = Math.ceil(g.measureText(text).width) + 10 * scale, h = Math.round(size * 1.5) * scale;
    c.width = w; c.height = h;
    g.font = font; g.textBaseline = "middle"; g.textAlign = "center";
    g.lineWidth = 4 * scale; g.strokeStyle = "rgba(255,255,255,0.95)"; g.lineJoin = "round";
    g.strokeText(text, w / 2, h / 2);
    g.fillStyle = "#1a1a1a"; g.fillText(text, w / 2, h / 2);
    return { image: g.getImageData(0, 0, w, h), pixelRatio: scale };
  }

  function arrowImage() {
    const s = 48, c = document.createElement("canvas");
    c.width = c.height = s;
    const g = c.getContext("2d");
    g.fillStyle = "#b10026"; g.strokeStyle = "#fff"; g.lineWidth = 3;
    g.beginPath();  // pointing north; icon-rotate turns it to the bearing
    g.moveTo(s / 2, 3); g.lineTo(s - 8, s / 2); g.lineTo(s / 2 + 7, s / 2); g.lineTo(s / 2 + 7, s - 3);
    g.lineTo(s / 2 - 7, s - 3); g.lineTo(s / 2 - 7, s / 2); g.lineTo(8, s / 2); g.closePath();
    g.stroke(); g.fill();
    return g.getImageData(0, 0, s, s);
  }

  const hash0 = parseHash();
  const zoom0 = hash0.z !== undefined && !isNaN(Number(hash0.z)) ? Number(hash0.z) : 5.5;
  // Asked for at once, before MapLibre sets itself up (its WebGL start takes the main thread a while); the
  // first version's state and points too, as soon as its id is known.
  const firstData = Promise.all([early("/api/versions"), early("/api/borders")]);
  firstData.then(([vs]) => {
    const list = vs.versions || [];
    const first = list.find((v) => v.id === hash0.t) || list[list.length - 1];
    if (!first) return;
    const z = Math.max(0, Math.min(12, Math.ceil(zoom0))), at = encodeURIComponent(first.id);
    early(`/api/state?at=${at}&zoom=${z}`).catch(() => {});
    early(`/api/points?at=${at}`).catch(() => {});
  }).catch(() => {});
  const TILES = new URLSearchParams(location.search).get("tiles") || hash0.tiles || "";
  // The whole style. The map starts with only what the first picture needs (FIRST_SOURCES: basemap, held
  // ground, arrows and units); the analysis, compare, claims and events layers are added after the first
  // idle (addLate), so MapLibre's start and the first tiles handle 3 sources instead of 12.
  const FIRST_SOURCES = new Set(["borders", "state", "points", "tiles"]);
  const STYLE = {
      version: 8,
      sources: {
        borders: { type: "geojson", data: empty() },
        state: { type: "geojson", data: empty(), buffer: 32, maxzoom: 13 },
        points: { type: "geojson", data: empty() },
        change: { type: "geojson", data: empty(), buffer: 32, maxzoom: 13 },
        contact: { type: "geojson", data: empty(), buffer: 32, maxzoom: 13 },
        corridors: { type: "geojson", data: empty() },
        roads: { type: "geojson", data: empty() },
        settlements: { type: "geojson", data: empty() },
        claims: { type: "geojson", data: empty() },
        events: { type: "geojson", data: empty(), cluster: true, clusterRadius: 40, clusterMaxZoom: 12 },
        ...(TILES ? { tiles: { type: "raster", tiles: [TILES], tileSize: 256 } } : {}),
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#dfe8ee" } },
        ...(TILES ? [{ id: "tiles", type: "raster", source: "tiles" }] : []),
        { id: "land", type: "fill", source: "borders", paint: { "fill-color": "#f4f1ea", "fill-opacity": TILES ? 0 : 1 } },
        { id: "borders", type: "line", source: "borders", paint: { "line-color": "#8a8a8a", "line-width": 0.8 } },
        { id: "ru-held", type: "fill", source: "state",
          filter: ["all", ["==", ["get", "status"], "held"], ["==", ["get", "side"], "ru"]],
          paint: { "fill-color": "#d7301f", "fill-opacity": 0.55, "fill-outline-color": "#7f0000" } },
        { id: "ua-held", type: "fill", source: "state",
          filter: ["all", ["==", ["get", "status"], "held"], ["==", ["get", "side"], "ua"]],
          paint: { "fill-color": "#2b6cb0", "fill-opacity": 0.55, "fill-outline-color": "#08306b" } },
        { id: "contested", type: "fill", source: "state", filter: ["==", ["get", "status"], "contested"],
          paint: { "fill-color": "#888", "fill-opacity": 0.55 } },
        { id: "cmp-gain", type: "fill", source: "change", filter: ["==", ["get", "change"], "gained"],
          paint: { "fill-color": "#2ca02c", "fill-opacity": 0.75 } },
        { id: "cmp-loss", type: "fill", source: "change", filter: ["==", ["get", "change"], "lost"],
          paint: { "fill-color": "#8e44ad", "fill-opacity": 0.75 } },
        { id: "pockets", type: "fill", source: "corridors", filter: ["==", ["get", "kind"], "pocket"],
          paint: { "fill-color": "#ffb000", "fill-opacity": 0.35, "fill-outline-color": "#a06d00" } },
        { id: "roads", type: "line", source: "roads",
          layout: { "line-cap": "round", "line-join": "round" },
          paint: { "line-color": ["coalesce", ["get", "colour"], "#555"], "line-width": ["interpolate", ["linear"], ["zoom"], 6, 2, 12, 5] } },
        { id: "contact", type: "line", source: "contact",
          layout: { "line-join": "round" }, paint: { "line-color": "#111", "line-width": 1.6 } },
        { id: "necks", type: "line", source: "corridors", filter: ["==", ["get", "kind"], "neck"],
          layout: { "line-cap": "round" },
          paint: { "line-color": ["case", ["get", "below_threshold"], "#e00000", "#ffb000"], "line-width": 5 } },
        { id: "units", type: "circle", source: "points", filter: ["in", ["get", "kind"], ["literal", ["unit", "hq"]]],
          paint: { "circle-radius": 5, "circle-color": "#7f0000", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } },
        { id: "directions", type: "symbol", source: "points", filter: ["==", ["get", "kind"], "direction"],
          layout: { "icon-image": "arrow", "icon-rotate": ["coalesce", ["get", "bearing"], 0],
                    "icon-rotation-alignment": "map", "icon-allow-overlap": true, "icon-ignore-placement": true,
                    "icon-size": 0.6 } },
        // a place that changed hands in this version has a thick ring and is always labelled
        { id: "settlements", type: "circle", source: "settlements",
          paint: { "circle-color": STATUS_COLOURS,
                   "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, ["case", ["get", "changed"], 5, 3],
                                     11, ["case", ["get", "changed"], 8, 6]],
                   "circle-stroke-color": ["case", ["get", "changed"], "#ffd400", "#222"],
                   "circle-stroke-width": ["case", ["get", "changed"], 2.5, 1] } },
        // labels thinned by zoom (minzoom from the server: larger places first, room for each label)
        { id: "settlement-labels", type: "symbol", source: "settlements",
          filter: ["any", ["get", "changed"], ["<=", ["coalesce", ["get", "minzoom"], 0], ["zoom"]]],
          layout: { "icon-image": ["concat", "txt:", ["get", "name"]], "icon-anchor": "left", "icon-offset": [6, 0],
                    "symbol-sort-key": ["case", ["get", "changed"], -1, ["coalesce", ["get", "minzoom"], 0]] } },
        { id: "claim-areas", type: "fill", source: "claims", filter: ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]],
          layout: { visibility: "none" },
          paint: { "fill-color": CLAIM_COLOUR, "fill-opacity": 0.35, "fill-outline-color": "#222" } },
        { id: "claim-lines", type: "line", source: "claims", filter: ["!", ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]]],
          layout: { visibility: "none" }, paint: { "line-color": CLAIM_COLOUR, "line-width": 2.5 } },
        { id: "claim-points", type: "circle", source: "claims", filter: ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]],
          layout: { visibility: "none" },
          paint: { "circle-color": CLAIM_COLOUR, "circle-radius": 7, "circle-stroke-color": "#111",
                   "circle-stroke-width": 1.5 } },
        { id: "event-clusters", type: "circle", source: "events", filter: ["has", "point_count"],
          layout: { visibility: "none" },
          paint: { "circle-color": "#fd8d3c", "circle-opacity": 0.85, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5,
                   "circle-radius": ["step", ["get", "point_count"], 12, 10, 16, 100, 22] } },
        { id: "event-counts", type: "symbol", source: "events", filter: ["has", "point_count"],
          layout: { visibility: "none", "icon-image": ["concat", "txt:", ["get", "point_count_abbreviated"]],
                    "icon-allow-overlap": true, "icon-ignore-placement": true } },
        { id: "events", type: "circle", source: "events", filter: ["!", ["has", "point_count"]],
          layout: { visibility: "none" },
          paint: { "circle-color": EVENT_COLOUR, "circle-radius": 5, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } },
        { id: "neck-labels", type: "symbol", source: "corridors", filter: ["==", ["get", "kind"], "neck-label"],
          layout: { "icon-image": ["concat", "txtb:", ["get", "label"]], "icon-allow-overlap": true,
                    "icon-anchor": "bottom", "icon-offset": [0, -4] } },
      ],
  };
  const isFirst = (layer) => !layer.source || FIRST_SOURCES.has(layer.source);
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
  let lateAdded = false;
  function addLate() {
    // every later layer goes below the first-picture layer that follows it in STYLE, so the order is STYLE's
    if (lateAdded) return;
    lateAdded = true;
    for (const [k, src] of Object.entries(STYLE.sources)) if (!FIRST_SOURCES.has(k)) map.addSource(k, src);
    STYLE.layers.forEach((layer, i) => {
      if (isFirst(layer)) return;
      const next = STYLE.layers.slice(i + 1).find(isFirst);
      map.addLayer(layer, next ? next.id : undefined);
    });
    for (const box of document.querySelectorAll("#layers input[data-layer]")) setVisible(box.dataset.layer, box.checked);
  }
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.on("styleimagemissing", (e) => {
    if (!/^txtb?:/.test(e.id) || map.hasImage(e.id)) return;
    const big = e.id.startsWith("txtb:");  // "txtb:" for the neck widths: the point of the map
    const t = big ? textImage(e.id.slice(5), 16) : textImage(e.id.slice(4));
    map.addImage(e.id, t.image, { pixelRatio: t.pixelRatio });
  });

  // ------------------------------------------------------- claims and events: popups
  const esc = (t) => String(t == null ? "" : t).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const link = (u) => (/^https?:\/\//i.test(u || "") ? `<br><a href="${esc(u)}" target="_blank" rel="noopener noreferrer">source</a>` : "");
  const day = (t) => esc(String(t || "").slice(0, 16).replace("T", " "));
  // MapLibre hands nested properties back as JSON text
  const obj = (v) => { if (v && typeof v === "object") return v; try { return JSON.parse(v) || {}; } catch (e) { return {}; } };
  function lagText(days) {
    if (days == null || days === "" || isNaN(Number(days))) return "—";
    const d = Number(days);
    // a negative lag: the map already showed it when the claim was made
    return d < 0 ? `map showed it ${Math.abs(d).toFixed(1)} days before the claim` : `${d.toFixed(1)} days`;
  }
  function readingHtml(det) {
    // a numeric claim's verdict depends on the reading of "side's ground" (held, held+contested, …)
    const rs = det.readings;
    if (!det.reading && !(rs && typeof rs === "object")) return "";
    const num = (x) => (typeof x === "number" ? fmt(x) : x);
    // a list of readings ({reading, value} or names) or an object reading → value
    const list = Array.isArray(rs) ? rs.map((r) => (r && typeof r === "object")
      ? [r.reading || r.name, num(r.value != null ? r.value : r.km2)].filter((x) => x != null).join(" ") : r)
      : (rs && typeof rs === "object") ? Object.entries(rs).map(([k, x]) => `${k} ${num(x)}`) : [];
    return `<br>reading <span class="reading">${esc(det.reading || "none fits")}</span>` +
      (list.length ? ` <span class="readings">(${esc(list.join("; "))})</span>` : "");
  }
  function claimHtml(p) {
    const det = obj(p.detail);
    const lagDays = p.lag_days != null && p.lag_days !== "" ? p.lag_days : det.lag_days;
    if (det.reading == null && p.reading) det.reading = p.reading;
    return `<div class="popup claim"><b>${esc(p.claimant)}</b> ` +
      `<span class="status" style="background:${CLAIM_COLOURS[p.status] || "#fff"}">${esc(p.status)}</span><br>` +
      (p.text ? `“${esc(p.text)}”<br>` : "") + (p.settlement ? `${esc(p.settlement)} · ` : "") +
      `${esc(p.side || "")} ${esc(p.change || "")} · claimed ${day(p.time)}<br>lag <span class="lag">${lagText(lagDays)}</span>` +
      readingHtml(det) + link(p.source_url) + "</div>";
  }
  function eventHtml(p) {
    return `<div class="popup event"><b>${esc(p.type)}</b> ${esc(p.side || "")} · ${day(p.time)}` +
      (p.title ? `<br>${esc(p.title)}` : "") + link(p.source_url) + "</div>";
  }
  let popup = null;
  function openPopup(lngLat, html) {
    if (popup) popup.remove();
    popup = new maplibregl.Popup({ maxWidth: "300px" }).setLngLat(lngLat).setHTML(html).addTo(map);
  }
  for (const layer of ["claim-points", "claim-lines", "claim-areas"]) {
    map.on("click", layer, (e) => { if (e.features.length) openPopup(e.lngLat, claimHtml(e.features[0].properties)); });
  }
  map.on("click", "events", (e) => { if (e.features.length) openPopup(e.lngLat, eventHtml(e.features[0].properties)); });
  map.on("click", "event-clusters", async (e) => {  // a cluster opens up: zoom to where it splits
    const f = e.features[0];
    const z = await map.getSource("events").getClusterExpansionZoom(f.properties.cluster_id);
    map.easeTo({ center: f.geometry.coordinates, zoom: z, duration: 400 });
  });
  for (const layer of ["claim-points", "claim-lines", "claim-areas", "events", "event-clusters"]) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }

  // Resolves at the next 'idle' (every source loaded, nothing left to draw). When nothing is pending
  // (every answer was the same as drawn) one frame is asked for, so 'idle' still comes.
  function waitIdle() {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => { if (!done) { done = true; resolve(); } };
      map.once("idle", finish);
      if (map.loaded()) map.triggerRepaint();
      setTimeout(finish, 5000);
    });
  }

  // Timing of the last setTime, ms: to the new held ground drawn, to the map idle (points too), and to
  // the whole map idle (every shown analysis layer drawn with this version's data, the map idle);
  // set: when each source was handed its answer (or found to hold it already).
  const timing = { drawn: null, idle: null, all: null, set: {} };
  const shown = {};     // source → the version whose data it holds (read by the tests and the bench)
  const drawnKey = {};  // source → what it holds: the server's digest, else the features' JSON text

  // Hands a version's answer to a source, unless the source holds the same content already (the
  // settlements, points and corridors of most versions are those of the previous one): MapLibre would
  // cut and lay out every tile again for nothing. Returns whether the source was given new data.
  function put(name, fc, vid) {
    const key = fc.digest ? "d:" + fc.digest : JSON.stringify(fc.features);
    const changed = key !== drawnKey[name];
    if (changed) {
      if (!map.getSource(name)) addLate();  // a step before the first idle map added the later layers
      map.getSource(name).setData(name === "corridors" ? withNeckLabels(fc) : fc);
      drawnKey[name] = key;
    }
    shown[name] = vid;
    timing.set[name] = Math.round(performance.now() - tStep);
    return changed;
  }

  // Resolves once a source's tiles hold the data last handed to it. (MapLibre's 'metadata' event comes
  // before the tiles are even asked to reload: the map still shows the old data then.)
  function waitLoaded(sourceId) {
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
  const nextFrame = () => new Promise((resolve) => { map.once("render", resolve); map.triggerRepaint(); });

  const stateUrl = (at, z) => `/api/state?at=${at}&zoom=${z}`;
  const pointsUrl = (at) => `/api/points?at=${at}`;
  const changeUrl = (j) => `/api/change?from=${encodeURIComponent(versions[j - 1].id)}` +
    `&to=${encodeURIComponent(versions[j].id)}&top=8`;
  const zoomBucket = () => Math.max(0, Math.min(12, Math.ceil(map.getZoom())));
  let dir = 1;  // the direction of the last step (+1 later, -1 earlier): that neighbour is prefetched first

  async function setTime(id) {
    const i = versions.findIndex((v) => v.id === String(id));
    if (i < 0) throw new Error("unknown version " + id);
    const my = ++seq, t0 = performance.now();
    timing.drawn = timing.idle = timing.all = null;
    timing.set = {};
    tStep = t0;
    if (index >= 0 && Math.abs(i - index) === 1) dir = i - index;
    const v = versions[i], at = encodeURIComponent(v.id), z = zoomBucket();
    // Everything the version shows is asked for at once (prefetched answers come from memory): on a
    // version not fetched before the server works on the analyses while the ground is drawn.
    const extras = extrasFor(v);
    const ground = Promise.all([ask(stateUrl(at, z)), ask(pointsUrl(at))]);
    if (i > 0) ask(changeUrl(i)).catch(() => {});  // the changes list (loadChanges)
    // then the prefetches of places that are no neighbours any more are aborted (this version's own
    // answers, asked for above, never are); those of the new neighbours go on
    prefetchOnly(neighbourUrls(i, z), false);
    // the other neighbours once this version's own answers are in (from memory, after a step: at once)
    Promise.allSettled([ground, ...Object.values(extras)]).then(() => { if (my === seq) prefetch(i, z); });
    const [state, points] = await ground;
    mark("state-fetched");
    if (my !== seq) return;
    const first = index < 0;
    index = i;
    // Everything goes to MapLibre at once: the layers share the frames drawn meanwhile (each costs
    // 100–200 ms in software GL) instead of each adding its own. The small layers with symbols (arrows,
    // settlement and neck labels) go before the ground when their answers are here: their tiles ask the
    // main thread for icons, and the first frame (still the old ground) would make them wait for it.
    // On the first load the analysis layers wait for the first idle map (the first picture comes sooner).
    put("points", points, v.id);
    for (const n of first ? [] : ["settlements", "corridors"]) {
      const body = extras[n] && peek(EXTRA[n](at, v));
      if (body) put(n, body, v.id);
    }
    const loaded = put("state", state, v.id) ? waitLoaded("state") : Promise.resolve();
    if (!first) drawExtras(my, extras, true);
    $("slider").value = String(i);
    $("when").textContent = v.time.replace("T", " ").replace(":00Z", " UTC") + `  (${i + 1}/${versions.length})`;
    drawCursor();
    writeHash();
    loadChanges(my);
    await loaded;
    if (my !== seq) return;
    await nextFrame();  // the held ground of this version is on screen
    if (my !== seq) return;
    timing.drawn = performance.now() - t0;
    mark("drawn");
    await waitIdle();
    timing.idle = performance.now() - t0;
    if (my === seq) {
      if (first) drawExtras(my, extras, true);
      document.body.dataset.version = v.id;
    }
  }

  // The neighbours of the shown version are fetched ahead (the next one in the direction of the last
  // step first, then the one after, then the previous): version-addressed answers never change, so a
  // slider step only has to draw.
  function neighbourUrls(i, z) {
    const urls = [];
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

  // ------------------------------------------------- per-version extra layers
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
  let extrasDone = Promise.resolve(), tStep = 0;
  // Each layer is drawn as its answer comes; then, once the map is idle, timing.all (for a step) and
  // body[data-layers] say the whole map shows the version.
  function drawExtras(my, extras, step = false) {
    const names = Object.keys(extras), vid = versions[index].id;
    extrasDone = Promise.all(names.map((n) => extras[n].then((fc) => {
      if (my !== seq) return;
      addLate();
      // numeric claims have no place on the map
      put(n, n === "claims" ? { ...fc, features: fc.features.filter((f) => f.geometry) } : fc, vid);
      notes[n] = fc.note || "";
      $("layer-notes").textContent = Object.values(notes).filter(Boolean).join(" ");
    }).catch((e) => { if (my === seq) showError(e.message); }))).then(async () => {
      if (my !== seq) return;
      await waitIdle();
      if (my !== seq) return;
      if (step) timing.all = performance.now() - tStep;
      document.body.dataset.layers = vid + ":" + names.join(",");
    });
    return extrasDone;
  }
  const loadExtras = (my, names) => (index < 0 ? Promise.resolve() : drawExtras(my, extrasFor(versions[index], names)));

  // -------------------------------------------- what changed in this version
  const fmt = (v) => Number(v).toLocaleString(undefined, { maximumFractionDigits: 1 });
  async function loadChanges(my) {
    const list = $("changes-list"), sum = $("changes-sum");
    if (index <= 0) { list.innerHTML = ""; sum.textContent = "The first version: nothing to compare with."; return; }
    let res;
    try { res = await ask(changeUrl(index)); } catch (e) { showError(e.message); return; }
    if (my !== seq) return;
    const sides = (window.frontlineSides || ["ua", "ru"]);
    sum.innerHTML = `vs ${versions[index - 1].time.slice(0, 16).replace("T", " ")}: ` + sides.map((s) =>
      `<b>${s}</b> <span class="gain-t">+${fmt(res.totals[s + "_gained_km2"])}</span>` +
      ` <span class="loss-t">−${fmt(res.totals[s + "_lost_km2"])}</span> km²`).join("; ");
    list.innerHTML = "";
    if (!res.advances.length) list.innerHTML = "<li class='notes'>No ground changed hands.</li>";
    res.advances.forEach((adv, k) => {
      const li = document.createElement("li"), btn = document.createElement("button");
      btn.textContent = `${adv.side} advanced ${fmt(adv.km2)} km² near ${adv.location[1].toFixed(3)}, ${adv.location[0].toFixed(3)}`;
      btn.dataset.lon = adv.location[0]; btn.dataset.lat = adv.location[1]; btn.className = "advance";
      btn.addEventListener("click", () => flyTo(adv.location, adv.bbox, "advance:" + k));
      li.appendChild(btn); list.appendChild(li);
    });
    document.body.dataset.changes = versions[index].id;
  }

  function flyTo(lonlat, bbox, tag) {
    map.once("moveend", () => { document.body.dataset.flown = tag; });
    delete document.body.dataset.flown;
    if (bbox && bbox[2] - bbox[0] > 0.02) {
      map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]], { padding: 40, maxZoom: 12, duration: 600 });
    } else {
      map.flyTo({ center: lonlat, zoom: Math.max(map.getZoom(), 11), duration: 600 });
    }
  }

  // ------------------------------------------------------ settlement search
  let searchSeq = 0, searchTimer = null;
  async function search(q) {
    const my = ++searchSeq, ul = $("search-results");
    if (!q.trim()) { ul.innerHTML = ""; return []; }
    const res = await getJSON(`/api/settlements/search?q=${encodeURIComponent(q)}&limit=8`);
    if (my !== searchSeq) return res.results;
    ul.innerHTML = "";
    if (!res.results.length) ul.innerHTML = `<li class="notes">${res.note || "No settlement by that name."}</li>`;
    for (const r of res.results) {
      const li = document.createElement("li"), btn = document.createElement("button");
      btn.textContent = r.name + (r.matched !== r.name ? ` (${r.matched})` : "") + (r.country ? ` · ${r.country}` : "");
      btn.className = "place"; btn.dataset.id = r.id;
      btn.addEventListener("click", () => flyTo([r.lon, r.lat], null, "place:" + r.id));
      li.appendChild(btn); ul.appendChild(li);
    }
    return res.results;
  }
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(e.target.value).catch((err) => showError(err.message)), 200);
  });
  $("search").addEventListener("keydown", async (e) => {
    if (e.key !== "Enter") return;
    clearTimeout(searchTimer);
    const results = await search(e.target.value).catch((err) => { showError(err.message); return []; });
    if (results.length) flyTo([results[0].lon, results[0].lat], null, "place:" + results[0].id);
  });

  function step(d) {
    if (!versions.length) return Promise.resolve();
    const i = Math.max(0, Math.min(versions.length - 1, index + d));
    return i === index ? Promise.resolve() : setTime(versions[i].id).catch((e) => showError(e.message));
  }

  function togglePlay() {
    if (playing) { clearInterval(playing); playing = null; $("play").textContent = "▶"; return; }
    $("play").textContent = "❚❚";
    playing = setInterval(() => {
      if (index >= versions.length - 1) setTime(versions[0].id); else step(1);
    }, 1200);
  }

  // ---------------------------------------------------------------- chart
  let chartRows = [], chartX = [], chartKey = "ru_km2", chartUnit = "km²", areaRows = [];
  const CW = 320, CH = 140, PAD = 14;

  function drawChart() {
    const svg = $("chart");
    const pts = chartRows.filter((r) => r[chartKey] != null);
    if (!pts.length) { svg.innerHTML = ""; return; }
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
    drawCursor();
  }

  function drawCursor() {
    const c = $("chart-cursor");
    if (!c || index < 0) return;
    const hit = chartX.find((p) => p.id === versions[index].id);
    const x = hit ? hit.x : -10;
    c.setAttribute("x1", x); c.setAttribute("x2", x);
  }

  // the chart shows the area series (loaded with the page) or the front's length (computed on first ask)
  $("chart-what").addEventListener("change", async (ev) => {
    if (ev.target.value === "front") {
      $("chart").innerHTML = `<text x="${PAD}" y="70">computing the front line per month…</text>`;
      try {
        chartRows = (await getJSON("/api/contact-line/series?every=month")).rows;
        chartKey = "total_km"; chartUnit = "km";
      } catch (e) { showError(e.message); return; }
    } else {
      chartRows = areaRows; chartKey = "ru_km2"; chartUnit = "km²";
    }
    drawChart();
  });

  $("chart").addEventListener("click", (ev) => {
    if (!chartX.length) return;
    const r = $("chart").getBoundingClientRect();
    const x = (ev.clientX - r.left) / r.width * CW;
    let best = chartX[0];
    for (const p of chartX) if (Math.abs(p.x - x) < Math.abs(best.x - x)) best = p;
    setTime(best.id).catch((e) => showError(e.message));
  });

  // -------------------------------------------------------------- compare
  async function runCompare(a, b) {
    const side = $("cmp-side").value;
    const res = await getJSON(`/api/change?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`);
    res.features = res.features.filter((f) => f.properties.side === side);
    addLate();
    map.getSource("change").setData(res);
    compare = [a, b];
    const tt = res.totals;
    $("cmp-out").innerHTML = `<span class="sw gain"></span> ${side} gained ${tt[side + "_gained_km2"]} km² ` +
      `<span class="sw loss"></span> lost ${tt[side + "_lost_km2"]} km² (net ${tt[side + "_net_km2"]})`;
    writeHash();
    await waitIdle();
    document.body.dataset.compare = a + "," + b;
  }

  $("cmp-go").addEventListener("click", () => {
    let a = $("cmp-a").value, b = $("cmp-b").value;
    const ia = versions.findIndex((v) => v.id === a), ib = versions.findIndex((v) => v.id === b);
    if (ia > ib) [a, b] = [b, a];
    runCompare(a, b).catch((e) => showError(e.message));
  });
  $("cmp-clear").addEventListener("click", () => {
    compare = null; if (map.getSource("change")) map.getSource("change").setData(empty());
    delete document.body.dataset.compare; writeHash();
  });

  // ----------------------------------------------------------------- wiring
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  $("play").addEventListener("click", togglePlay);
  $("slider").addEventListener("input", (e) => {
    const v = versions[Number(e.target.value)];
    if (v) setTime(v.id).catch((err) => showError(err.message));
  });
  document.addEventListener("keydown", (e) => {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;  // the slider steps itself
    if (e.key === "ArrowLeft") { step(-1); e.preventDefault(); }
    if (e.key === "ArrowRight") { step(1); e.preventDefault(); }
  });
  for (const box of document.querySelectorAll("#layers input[data-layer]")) {
    box.addEventListener("change", () => {
      setVisible(box.dataset.layer, box.checked);
      writeHash();
      if (box.checked && EXTRA[box.dataset.layer] && index >= 0) loadExtras(seq);
    });
  }
  $("an-side").addEventListener("change", () => { writeHash(); if (index >= 0) loadExtras(seq); });
  let lastBox = "";
  map.on("moveend", () => {
    writeHash();
    // settlements follow the view once zoomed in (the most populous are sent when zoomed out)
    const box = settlementsView();
    if (visible("settlements") && index >= 0 && box !== lastBox) {
      lastBox = box;
      loadExtras(seq, ["settlements"]);
    }
  });

  async function init() {
    await new Promise((r) => (map.loaded() ? r() : map.once("load", r)));
    mark("map-load");
    map.addImage("arrow", arrowImage(), { pixelRatio: 2 });
    const [vs, borders] = await firstData;
    mark("versions");
    // the basemap goes in with the first version's ground (setTime), so the tiles are laid out once
    map.getSource("borders").setData(borders);
    versions = vs.versions;
    if (!versions.length) { showError("The store holds no versions."); return; }
    $("slider").max = String(versions.length - 1);
    const sides = vs.sides || ["ru", "ua"];
    window.frontlineSides = sides;
    $("cmp-side").innerHTML = sides.map((s) => `<option>${s}</option>`).join("");
    $("an-side").innerHTML = sides.map((s) => `<option>${s}</option>`).join("");
    $("an-side").value = sides.includes("ua") ? "ua" : sides[0];
    const h = parseHash();
    if (h.side) $("cmp-side").value = h.side;
    if (h.as && sides.includes(h.as)) $("an-side").value = h.as;
    const on = h.layers !== undefined ? new Set(h.layers.split(",")) : null;
    for (const box of document.querySelectorAll("#layers input[data-layer]")) {
      if (on) box.checked = on.has(box.dataset.layer);
      setVisible(box.dataset.layer, box.checked);
    }
    const start = versions.find((v) => v.id === h.t) || versions[versions.length - 1];
    await setTime(start.id);
    // ms from navigation start to the first idle map with the version drawn (read by bench/bench_web.py)
    document.body.dataset.firstIdleMs = String(Math.round(performance.now()));
    // the compare lists (two options per version: thousands of elements) wait until the map is up
    for (const sel of [$("cmp-a"), $("cmp-b")]) {
      sel.innerHTML = versions.map((v) => `<option value="${v.id}">${v.time.slice(0, 10)}</option>`).join("");
    }
    $("cmp-a").value = versions[0].id; $("cmp-b").value = versions[versions.length - 1].id;
    if (h.cmp) {
      const [a, b] = h.cmp.split(",");
      if (a && b) { $("cmp-a").value = a; $("cmp-b").value = b; await runCompare(a, b).catch((e) => showError(e.message)); }
    }
    try { areaRows = chartRows = (await getJSON("/api/areas?region=home:ua")).rows; drawChart(); }
    catch (e) { showError(e.message); }
  }

  window.frontline = { map, setTime, ready, versions: () => versions, compare: runCompare, search, flyTo,
                       extras: () => extrasDone, timing, marks, shown: () => ({ ...shown }) };
  init().then(readyResolve, (e) => { showError(e.message); readyResolve(); });
})();
