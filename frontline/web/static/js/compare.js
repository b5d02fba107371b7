/* The compare view: ground a side gained and lost between two versions. */
import { $, empty, page, showError } from "./page.js";
import { compareUrl, getJSON } from "../app.js";
import { addLate, waitIdle } from "./layers.js";
import { writeHash } from "./urlstate.js";

export async function runCompare(a, b) {
  const side = $("cmp-side").value;
  const res = await getJSON(compareUrl(a, b));
  res.features = res.features.filter((f) => f.properties.side === side);
  addLate();
  page.map.getSource("change").setData(res);
  page.compare = [a, b];
  const tt = res.totals;
  $("cmp-out").innerHTML = `<span class="sw gain"></span> ${side} gained ${tt[side + "_gained_km2"]} km² ` +
    `<span class="sw loss"></span> lost ${tt[side + "_lost_km2"]} km² (net ${tt[side + "_net_km2"]})`;
  writeHash();
  await waitIdle();
  document.body.dataset.compare = a + "," + b;
}

// The two version lists (thousands of options: filled once the map is up), then the URL's compare view.
export async function fillCompare(cmp) {
  const vs = page.versions;
  for (const sel of [$("cmp-a"), $("cmp-b")]) {
    sel.innerHTML = vs.map((v) => `<option value="${v.id}">${v.time.slice(0, 10)}</option>`).join("");
  }
  $("cmp-a").value = vs[0].id; $("cmp-b").value = vs[vs.length - 1].id;
  if (cmp) {
    const [a, b] = cmp.split(",");
    if (a && b) { $("cmp-a").value = a; $("cmp-b").value = b; await runCompare(a, b).catch((e) => showError(e.message)); }
  }
}

export function bindCompare() {
  $("cmp-go").addEventListener("click", () => {
    let a = $("cmp-a").value, b = $("cmp-b").value;
    const ia = page.versions.findIndex((v) => v.id === a), ib = page.versions.findIndex((v) => v.id === b);
    if (ia > ib) [a, b] = [b, a];
    runCompare(a, b).catch((e) => showError(e.message));
  });
  $("cmp-clear").addEventListener("click", () => {
    page.compare = null;
    if (page.map.getSource("change")) page.map.getSource("change").setData(empty());
    delete document.body.dataset.compare; writeHash();
  });
}
