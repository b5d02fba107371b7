/* Frontline web map: offline MapLibre style, time slider, area chart, compare view.
 * State lives in the URL hash: #t=<version id>&z=&lon=&lat=&layers=a,b&cmp=a,b&side=ru */
(function () {
  "use strict";
  const TOGGLES = ["ru-held", "ua-held", "contested", "directions", "units"];
  const $ = (id) => document.getElementById(id);
  const empty = () => ({ type: "FeatureCollection", features: [] });
  let versions = [];       // [{id, time, revision}]
  let index = -1;          // shown version
  let seq = 0;             // ignores stale responses
  let playing = null;
  let compare = null;      // [a, b] version ids
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });

  function showError(msg) { const e = $("error"); e.textContent = msg; e.hidden = !msg; }

  async function getJSON(url) {
    const r = await fetch(url);
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.detail || (url + ": HTTP " + r.status));
    return body;
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
    ];
    if (compare) parts.push("cmp=" + compare.join(","), "side=" + $("cmp-side").value);
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  function visible(layer) {
    return map.getLayer(layer) && map.getLayoutProperty(layer, "visibility") !== "none";
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
  const map = new maplibregl.Map({
    container: "map",
    center: [Number(hash0.lon) || 36.5, Number(hash0.lat) || 49.0],
    zoom: hash0.z !== undefined && !isNaN(Number(hash0.z)) ? Number(hash0.z) : 5.5,
    attributionControl: false,
    style: {
      version: 8,
      sources: {
        borders: { type: "geojson", data: empty() },
        state: { type: "geojson", data: empty() },
        points: { type: "geojson", data: empty() },
        change: { type: "geojson", data: empty() },
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#dfe8ee" } },
        { id: "land", type: "fill", source: "borders", paint: { "fill-color": "#f4f1ea" } },
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
        { id: "units", type: "circle", source: "points", filter: ["in", ["get", "kind"], ["literal", ["unit", "hq"]]],
          paint: { "circle-radius": 5, "circle-color": "#7f0000", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } },
        { id: "directions", type: "symbol", source: "points", filter: ["==", ["get", "kind"], "direction"],
          layout: { "icon-image": "arrow", "icon-rotate": ["coalesce", ["get", "bearing"], 0],
                    "icon-rotation-alignment": "map", "icon-allow-overlap": true, "icon-size": 0.6 } },
      ],
    },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));

  function waitIdle() {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => { if (!done) { done = true; resolve(); } };
      map.once("idle", finish);
      setTimeout(finish, 5000);
    });
  }

  async function setTime(id) {
    const i = versions.findIndex((v) => v.id === String(id));
    if (i < 0) throw new Error("unknown version " + id);
    const my = ++seq;
    const z = Math.max(0, Math.min(12, Math.ceil(map.getZoom())));
    const at = encodeURIComponent(versions[i].id);
    const [state, points] = await Promise.all([
      getJSON(`/api/state?at=${at}&zoom=${z}`), getJSON(`/api/points?at=${at}`)]);
    if (my !== seq) return;
    index = i;
    map.getSource("state").setData(state);
    map.getSource("points").setData(points);
    $("slider").value = String(i);
    $("when").textContent = versions[i].time.replace("T", " ").replace(":00Z", " UTC") +
      `  (${i + 1}/${versions.length})`;
    drawCursor();
    writeHash();
    await waitIdle();
    if (my === seq) document.body.dataset.version = versions[i].id;
  }

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
  let chartRows = [], chartX = [];
  const CW = 320, CH = 140, PAD = 14;

  function drawChart() {
    const svg = $("chart");
    const pts = chartRows.filter((r) => r.ru_km2 != null);
    if (!pts.length) { svg.innerHTML = ""; return; }
    const t = pts.map((r) => Date.parse(r.time)), y = pts.map((r) => r.ru_km2);
    const t0 = Math.min(...t), t1 = Math.max(...t), ymax = Math.max(...y) * 1.05 || 1;
    const ymin = Math.min(...y) * 0.95;
    const sx = (v) => PAD + (t1 > t0 ? (v - t0) / (t1 - t0) : 0.5) * (CW - 2 * PAD);
    const sy = (v) => CH - PAD - (ymax > ymin ? (v - ymin) / (ymax - ymin) : 0.5) * (CH - 2 * PAD);
    chartX = pts.map((r, k) => ({ id: r.version_id, x: sx(t[k]) }));
    let d = `M${sx(t[0])},${CH - PAD}`;
    pts.forEach((r, k) => { d += `L${sx(t[k]).toFixed(1)},${sy(y[k]).toFixed(1)}`; });
    d += `L${sx(t[t.length - 1])},${CH - PAD}Z`;
    svg.innerHTML = `<path class="area" d="${d}"/><line class="cursor" id="chart-cursor" y1="0" y2="${CH}"/>` +
      `<text x="${PAD}" y="10">${Math.round(Math.max(...y)).toLocaleString()} km²</text>`;
    drawCursor();
  }

  function drawCursor() {
    const c = $("chart-cursor");
    if (!c || index < 0) return;
    const hit = chartX.find((p) => p.id === versions[index].id);
    const x = hit ? hit.x : -10;
    c.setAttribute("x1", x); c.setAttribute("x2", x);
  }

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
    compare = null; map.getSource("change").setData(empty());
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
      map.setLayoutProperty(box.dataset.layer, "visibility", box.checked ? "visible" : "none");
      writeHash();
    });
  }
  map.on("moveend", writeHash);

  async function init() {
    await new Promise((r) => (map.loaded() ? r() : map.once("load", r)));
    map.addImage("arrow", arrowImage(), { pixelRatio: 2 });
    const [vs, borders] = await Promise.all([getJSON("/api/versions"), getJSON("/api/borders")]);
    map.getSource("borders").setData(borders);
    versions = vs.versions;
    if (!versions.length) { showError("The store holds no versions."); return; }
    $("slider").max = String(versions.length - 1);
    for (const sel of [$("cmp-a"), $("cmp-b")]) {
      sel.innerHTML = versions.map((v) => `<option value="${v.id}">${v.time.slice(0, 10)}</option>`).join("");
    }
    $("cmp-a").value = versions[0].id; $("cmp-b").value = versions[versions.length - 1].id;
    const sides = vs.sides || ["ru", "ua"];
    $("cmp-side").innerHTML = sides.map((s) => `<option>${s}</option>`).join("");
    const h = parseHash();
    if (h.side) $("cmp-side").value = h.side;
    if (h.layers !== undefined) {
      const on = new Set(h.layers.split(","));
      for (const box of document.querySelectorAll("#layers input[data-layer]")) {
        box.checked = on.has(box.dataset.layer);
        map.setLayoutProperty(box.dataset.layer, "visibility", box.checked ? "visible" : "none");
      }
    }
    const start = versions.find((v) => v.id === h.t) || versions[versions.length - 1];
    await setTime(start.id);
    if (h.cmp) {
      const [a, b] = h.cmp.split(",");
      if (a && b) { $("cmp-a").value = a; $("cmp-b").value = b; await runCompare(a, b).catch((e) => showError(e.message)); }
    }
    try { chartRows = (await getJSON("/api/areas?region=home:ua")).rows; drawChart(); }
    catch (e) { showError(e.message); }
  }

  window.frontline = { map, setTime, ready, versions: () => versions, compare: runCompare };
  init().then(readyResolve, (e) => { showError(e.message); readyResolve(); });
})();
