/* The page's state in the URL hash: #t=<version id>&z=&lon=&lat=&layers=a,b&as=ua&cmp=a,b&side=ru */
import { $, anSide, page } from "./page.js";
import { TOGGLES, visible } from "./layers.js";

export function parseHash() {
  const h = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    const i = part.indexOf("=");
    h[decodeURIComponent(i < 0 ? part : part.slice(0, i))] = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
  }
  return h;
}

export function writeHash() {
  const map = page.map;
  if (!map || page.index < 0) return;
  const c = map.getCenter();
  const parts = [
    "t=" + encodeURIComponent(page.versions[page.index].id),
    "z=" + map.getZoom().toFixed(2),
    "lon=" + c.lng.toFixed(4),
    "lat=" + c.lat.toFixed(4),
    "layers=" + TOGGLES.filter(visible).join(","),
    "as=" + encodeURIComponent(anSide()),
  ];
  if (page.compare) parts.push("cmp=" + page.compare.join(","), "side=" + $("cmp-side").value);
  history.replaceState(null, "", "#" + parts.join("&"));
}
