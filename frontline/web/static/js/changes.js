/* The list of what changed in the shown version: totals per side and the advances, each a button to fly there. */
import { $, fmt, page, showError } from "./page.js";
import { ask, changeUrl } from "../app.js";
import { flyTo } from "./layers.js";

export async function loadChanges(my) {
  const list = $("changes-list"), sum = $("changes-sum"), index = page.index, versions = page.versions;
  if (index <= 0) { list.innerHTML = ""; sum.textContent = "The first version: nothing to compare with."; return; }
  let res;
  try { res = await ask(changeUrl(index)); } catch (e) { if (my === page.seq) showError(e.message); return; }
  if (my !== page.seq) return;
  sum.innerHTML = `vs ${versions[index - 1].time.slice(0, 16).replace("T", " ")}: ` + page.sides.map((s) =>
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
