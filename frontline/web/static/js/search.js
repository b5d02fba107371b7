/* Settlement search: results as the user types, Enter flies to the best match. */
import { $, showError } from "./page.js";
import { getJSON, searchUrl } from "../app.js";
import { flyTo } from "./layers.js";

let searchSeq = 0, searchTimer = null;

export async function search(q) {
  const my = ++searchSeq, ul = $("search-results");
  if (!q.trim()) { ul.innerHTML = ""; return []; }
  const res = await getJSON(searchUrl(q));
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

export function bindSearch() {
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
}
