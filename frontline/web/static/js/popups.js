/* Popups of claims (status, lag, reading) and events, and the cluster zoom of events. */
import { fmt, page } from "./page.js";
import { CLAIM_COLOURS } from "./style.js";

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
  popup = new maplibregl.Popup({ maxWidth: "300px" }).setLngLat(lngLat).setHTML(html).addTo(page.map);
}

// Clicks on claims and events open their popup; a click on a cluster zooms to where it splits.
export function bindPopups(map) {
  for (const layer of ["claim-points", "claim-lines", "claim-areas"]) {
    map.on("click", layer, (e) => { if (e.features.length) openPopup(e.lngLat, claimHtml(e.features[0].properties)); });
  }
  map.on("click", "events", (e) => { if (e.features.length) openPopup(e.lngLat, eventHtml(e.features[0].properties)); });
  map.on("click", "event-clusters", async (e) => {
    const f = e.features[0];
    const z = await map.getSource("events").getClusterExpansionZoom(f.properties.cluster_id);
    map.easeTo({ center: f.geometry.coordinates, zoom: z, duration: 400 });
  });
  for (const layer of ["claim-points", "claim-lines", "claim-areas", "events", "event-clusters"]) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }
}
