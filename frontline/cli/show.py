"""``frontline show``: one version: what it holds by class, and the area per side."""

from __future__ import annotations

import click

from ..model import iso
from ._common import AT_OPT, STORE_OPT, _print_json, _table, console, guard


@click.command()
@STORE_OPT
@AT_OPT
@click.option("--source", default=None)
@click.option("--json", "as_json", is_flag=True)
@guard(store="read")
def show(st, at, source, as_json):
    """Show one version: what it holds by class, and the area per side."""
    from collections import Counter

    from ..analysis.area import area_at
    from ..state import resolve_version

    v = resolve_version(st, at, source)
    feats = st.features_at(v)
    areas = {r: area_at(st, v.valid_time, region=r, source=source) for r in ("home:ua", "home:ru", "theatre")}
    counts = Counter((f.kind, f.key, f.role, f.side or "") for f in feats)
    out = {
        "version_id": v.version_id,
        "time": iso(v.valid_time),
        "revision": v.revision,
        "classes": [
            {"kind": k, "key": key, "role": role, "side": side or None, "count": n}
            for (k, key, role, side), n in sorted(counts.items())
        ],
        "areas": areas,
    }
    if as_json:
        _print_json(out)
        return
    console.print(f"[bold]{v.source} {v.version_id}[/] — {iso(v.valid_time)} (revision {v.revision})")
    _table(
        [
            {"kind": c["kind"], "key": c["key"], "role": c["role"], "side": c["side"], "count": c["count"]}
            for c in out["classes"]
        ],
        ["kind", "key", "role", "side", "count"],
        title="Features by class",
    )
    _table(
        [dict(a, region=r) for r, a in areas.items()],
        ["region", "ua_km2", "ru_km2", "contested_km2"],
        title="Area (clipped to region, geodesic km²)",
    )
