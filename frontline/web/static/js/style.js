/* The map's style: sources, layers and their colours, and the images drawn for labels and arrows.
 * The map starts with only what the first picture needs (FIRST_SOURCES: basemap, held ground, arrows and
 * units); the other layers are added after the first idle map (layers.js addLate), so MapLibre's start and
 * the first tiles handle 3 sources instead of 12. */
import { empty } from "./page.js";

// Claim status → colour (frontline.analysis.claims); unchecked: not verified yet.
export const CLAIM_COLOURS = {
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
// The same by the place's feature-state (set per version by layers.js), its properties until then.
const PLACE_COLOURS = ["match", ["coalesce", ["feature-state", "status"], ["get", "status"], "none"],
  "ua", "#2b6cb0", "ru", "#d7301f", "contested", "#888888", "#ffffff"];

/* Water: lakes come from /api/borders (kind "water") and are drawn over the held ground, not under it.
 * Held ground is cut around lakes, and simplified for a zoom each hole turned into a crude triangle of the
 * land's colour; the server fills those holes when it simplifies (frontline.web.geojson.fill_water_holes)
 * and the page paints the lakes on top, so a lake looks like a lake whatever side holds its shores, and
 * shares no simplified edge with the held ground that could leave slivers. */
export const WATER = "#dfe8ee";
const NOT_WATER = ["!=", ["get", "kind"], "water"];

export const FIRST_SOURCES = new Set(["borders", "state", "points", "tiles"]);
export const isFirst = (layer) => !layer.source || FIRST_SOURCES.has(layer.source);

// The whole style; TILES: an optional raster tile URL (none by default: offline).
export function makeStyle(TILES) {
  return {
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
      "settlement-changes": { type: "geojson", data: empty() },
      claims: { type: "geojson", data: empty() },
      events: { type: "geojson", data: empty(), cluster: true, clusterRadius: 40, clusterMaxZoom: 12 },
      ...(TILES ? { tiles: { type: "raster", tiles: [TILES], tileSize: 256 } } : {}),
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": WATER } },
      ...(TILES ? [{ id: "tiles", type: "raster", source: "tiles" }] : []),
      // no antialiased edge (a line along every edge of the land, each frame): the border line draws it
      { id: "land", type: "fill", source: "borders", filter: NOT_WATER,
        paint: { "fill-color": "#f4f1ea", "fill-opacity": TILES ? 0 : 1, "fill-antialias": false } },
      { id: "borders", type: "line", source: "borders", filter: NOT_WATER,
        paint: { "line-color": "#8a8a8a", "line-width": 0.8 } },
      { id: "ru-held", type: "fill", source: "state",
        filter: ["all", ["==", ["get", "status"], "held"], ["==", ["get", "side"], "ru"]],
        paint: { "fill-color": "#d7301f", "fill-opacity": 0.55, "fill-outline-color": "#7f0000" } },
      { id: "ua-held", type: "fill", source: "state",
        filter: ["all", ["==", ["get", "status"], "held"], ["==", ["get", "side"], "ua"]],
        paint: { "fill-color": "#2b6cb0", "fill-opacity": 0.55, "fill-outline-color": "#08306b" } },
      { id: "contested", type: "fill", source: "state", filter: ["==", ["get", "status"], "contested"],
        paint: { "fill-color": "#888", "fill-opacity": 0.55 } },
      // Lakes and reservoirs over the held ground, in the sea's colour (see WATER above).
      { id: "water", type: "fill", source: "borders", filter: ["==", ["get", "kind"], "water"],
        paint: { "fill-color": WATER } },
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
      // the places labelled at the zoom: their status is feature-state (layers.js), so a slider step
      // lays out no tile again; labels thinned by zoom (minzoom from the server: larger places first)
      { id: "settlements", type: "circle", source: "settlements",
        paint: { "circle-color": PLACE_COLOURS,
                 "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 3, 11, 6],
                 "circle-stroke-color": "#222", "circle-stroke-width": 1 } },
      { id: "settlement-labels", type: "symbol", source: "settlements",
        filter: ["<=", ["coalesce", ["get", "minzoom"], 0], ["zoom"]],
        layout: { "icon-image": ["concat", "txt:", ["get", "name"]], "icon-anchor": "left", "icon-offset": [6, 0],
                  "symbol-sort-key": ["coalesce", ["get", "minzoom"], 0] } },
      // a place that changed hands in this version has a thick ring and is always labelled (its label,
      // placed first, hides the same label of the layer below)
      { id: "settlement-changes", type: "circle", source: "settlement-changes",
        paint: { "circle-color": STATUS_COLOURS,
                 "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 5, 11, 8],
                 "circle-stroke-color": "#ffd400", "circle-stroke-width": 2.5 } },
      { id: "settlement-change-labels", type: "symbol", source: "settlement-changes",
        layout: { "icon-image": ["concat", "txt:", ["get", "name"]], "icon-anchor": "left", "icon-offset": [6, 0] } },
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
}

// Text drawn into images on demand ("txt:<text>"): labels need no glyph server, so the map stays offline.
export function textImage(text, size = 12) {
  // drawn at the screen's pixel ratio: a 2× image on a 1× screen is four times the pixels to pack per tile
  const scale = Math.max(1, Math.min(2, Math.round(window.devicePixelRatio || 1)));
  const font = `${size > 12 ? 700 : 600} ${size * scale}px system-ui, sans-serif`;
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

export function arrowImage() {
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
