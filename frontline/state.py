"""The control map at a time, read back from the store.

``state_at`` is the entry point analysis code uses: it finds the version valid
at a time, reads its features from their validity intervals, and rebuilds the
partition from stored pieces (home complements only when asked for).
"""

from __future__ import annotations

from .model import ControlMap, utc
from .normalise import LazyHeld, PartitionBuilder, VersionControl
from .store import GeoPackageStore, StoredFeature, VersionInfo, theatre_of

_BUILDERS: dict[int, PartitionBuilder] = {}


def version_control(store: GeoPackageStore, version: VersionInfo) -> VersionControl:
    """The partition of one stored version."""
    fids = store.member_fids(version)
    pieces = store.pieces(fids)
    th = theatre_of(store)
    builder = _BUILDERS.setdefault(id(th), PartitionBuilder(th))
    return builder.build(pieces.values())


def resolve_version(store: GeoPackageStore, at=None, source: str | None = None) -> VersionInfo:
    """The version valid at ``at`` (ISO text or epoch seconds; the latest when None)."""
    from .analysis.area import parse_time
    from .model import iso

    source = store.default_source(source)
    versions = store.versions(source)
    if at is None or at == "latest":
        return versions[-1]
    t = parse_time(at)
    v = store.version_at(t, source)
    if v is None:
        raise ValueError(f"No version of {source} at {iso(t)}: the first is {iso(versions[0].valid_time)}.")
    return v


def state_at(store: GeoPackageStore, at=None, source: str | None = None) -> tuple[ControlMap, list[StoredFeature]]:
    """The control map valid at a time and the version's stored features.

    Parameters
    ----------
    store
        An open store.
    at
        ISO time or epoch seconds; the latest version when None.
    source
        Source name; the default source when None.

    Returns
    -------
    tuple
        ``(ControlMap, features)``; ``ControlMap.held`` computes each side's
        ground on first access.
    """
    v = resolve_version(store, at, source)
    vc = version_control(store, v)
    feats = store.features_at(v)
    points = [f for f in feats if f.kind != "area"]
    cmap = ControlMap(
        source=v.source, version_id=v.version_id, valid_time=utc(v.valid_time), held=LazyHeld(vc),
        contested=lambda: vc.contested, theatre=lambda: vc.theatre.geom, points=points,
        published_at=utc(v.published_at) if v.published_at else None,
        revised_at=utc(v.revised_at) if v.revised_at else None, control=vc,
    )
    return cmap, feats
