"""A small generated store for the web tests (not a pytest conftest: imported by name).

Uses :func:`frontline.demo.build_demo_store` when it exists; otherwise writes
a few weekly DeepState-shaped FeatureCollections and imports them: an
occupied block in Donetsk oblast that grows east→west, a liberated salient
near Sudzha (in Russia, so held by ua abroad) that shrinks, an unknown-status
strip, and arrows/units.
"""

from __future__ import annotations

import json
from pathlib import Path

T0 = 1_735_689_600  # 2025-01-01T00:00Z
WEEK = 7 * 86400
N_VERSIONS = 6

OCC = "Окуповано /// Occupied /// geoJSON.status.occupied"
LIB = "Звільнено /// Liberated /// geoJSON.status.dismissed"
UNK = "Статус невідомий /// Unknown status /// geoJSON.status.unknown"


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _feature(name, geom, description=None):
    props = {"name": name}
    if description:
        props["description"] = description
    return {"type": "Feature", "properties": props, "geometry": geom}


def _version(i: int) -> dict:
    feats = [
        # ru-held in Ukraine: grows westward each week
        _feature(OCC, _box(37.9 - 0.08 * i, 47.9, 38.6, 48.4)),
        # ua-held in Russia near Sudzha: shrinks each week
        _feature(LIB, _box(35.05 + 0.03 * i, 51.12 + 0.01 * i, 35.45 - 0.03 * i, 51.38 - 0.01 * i)),
        # contested strip west of the occupied block
        _feature(UNK, _box(37.8 - 0.08 * i, 47.9, 37.9 - 0.08 * i, 48.4)),
        _feature("Напрямок /// Direction /// geoJSON.status.attack_direction",
                 {"type": "Point", "coordinates": [37.7 - 0.08 * i, 48.15]}, "{icon=arrow_%d}" % (13 - (i % 3))),
        _feature("Підрозділ /// Unit /// x", {"type": "Point", "coordinates": [38.2, 48.2 + 0.01 * i]},
                 "{icon=enemy}"),
    ]
    return {"type": "FeatureCollection", "features": feats}


def make_web_store(path: Path):
    """Build a store with ``N_VERSIONS`` weekly versions at ``path``; returns the open store."""
    path = Path(path)
    try:
        from frontline.demo import build_demo_store  # type: ignore
    except ImportError:
        build_demo_store = None
    if build_demo_store is not None:
        return build_demo_store(path)
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.store import init_store

    folder = path.parent / (path.stem + "-src")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(N_VERSIONS):
        (folder / f"{T0 + i * WEEK}.geojson").write_text(json.dumps(_version(i)))
    store = init_store(path)
    Importer(store).run(deepstate.read_path(folder), progress=False)
    return store
