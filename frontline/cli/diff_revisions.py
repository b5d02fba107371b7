"""``frontline diff-revisions``: what a revision of a version changed, in km² per side and in features."""

from __future__ import annotations

import click

from ..errors import InputError
from ..model import iso
from ._common import STORE_OPT, _print_json, _table, console, guard


def _pick(revs: list[int], from_rev: int | None, to_rev: int | None) -> tuple[int, int]:
    """The two revisions compared: by default the last one and the one before it."""
    b = to_rev if to_rev is not None else revs[-1]
    earlier = [r for r in revs if r < b]
    a = from_rev if from_rev is not None else (earlier[-1] if earlier else b)
    return a, b


def revision_diff(st, version_id: str, source: str | None, from_rev: int | None, to_rev: int | None) -> dict:
    """km² per side gained/lost (geodesic, per region and in total) and features added/removed between revisions.

    Raises
    ------
    InputError
        When the version or a revision is not in the store.
    """
    from ..analysis.change import compare_versions
    from ..store.known_at import revision_version

    source = st.default_source(source)
    current = st.version(source, version_id)
    if current is None:
        raise InputError(f"No version {version_id!r} of {source} in the store (see frontline list).", field="VERSION")
    revs = [r["revision"] for r in st.revision_rows(source) if r["version_id"] == current.version_id]
    a, b = _pick(revs or [current.revision], from_rev, to_rev)
    va, vb = revision_version(st, current, a), revision_version(st, current, b)
    report = compare_versions(st, va, vb, source, {})
    ma, mb = set(st.member_fids(va)), set(st.member_fids(vb))
    described = {f.fid: f for f in st.features_by_fid(sorted(ma ^ mb))}

    def feats(fids):
        return [
            {"fid": f.fid, "kind": f.kind, "role": f.role, "side": f.side, "name": f.name_en or f.name}
            for f in (described[i] for i in sorted(fids) if i in described)
        ]

    return {
        "source": source,
        "version_id": current.version_id,
        "time": iso(current.valid_time),
        "from": {"revision": a, "revised_at": iso(va.revised_at), "content_hash": va.content_hash},
        "to": {"revision": b, "revised_at": iso(vb.revised_at), "content_hash": vb.content_hash},
        "rows": report.rows(),
        "totals": report.totals(),
        "features_added": feats(mb - ma),
        "features_removed": feats(ma - mb),
    }


@click.command("diff-revisions")
@STORE_OPT
@click.argument("version_id", metavar="VERSION")
@click.option("--from-rev", type=int, default=None, help="Earlier revision (default: the one before --to-rev).")
@click.option("--to-rev", type=int, default=None, help="Later revision (default: the store's current one).")
@click.option("--source", default=None, help="Source name (default: the store's default source).")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@guard(store="read")
def diff_revisions(st, version_id, from_rev, to_rev, source, as_json):
    """Show what a revision of VERSION changed: km² per side gained and lost, features added and removed.

    The two revisions' own maps are compared (geodesic km², per region and
    in total); see frontline list --revisions for the revisions stored.

    \b
    frontline diff-revisions 1741284000
    frontline diff-revisions 1741284000 --from-rev 1 --to-rev 3 --json
    """
    out = revision_diff(st, version_id, source, from_rev, to_rev)
    if as_json:
        _print_json(out)
        return
    a, b = out["from"], out["to"]
    console.print(
        f"[bold]{out['source']} {out['version_id']}[/] ({out['time']}): revision {a['revision']} "
        f"(revised {a['revised_at'] or '?'}) → {b['revision']} (revised {b['revised_at'] or '?'})"
    )
    _table(
        [dict(side=s, **t) for s, t in out["totals"].items()],
        ["side", "gained_km2", "lost_km2", "net_km2"],
        title="Ground gained and lost (geodesic km²)",
    )
    for what in ("features_added", "features_removed"):
        rows = out[what]
        if rows:
            _table(rows, ["fid", "kind", "role", "side", "name"], title=f"{what.replace('_', ' ')}: {len(rows)}")
        else:
            console.print(f"{what.replace('_', ' ')}: none")
