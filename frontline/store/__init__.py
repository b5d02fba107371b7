"""Stores: one interface (:class:`Store`), the embedded GeoPackage backend by default."""

from __future__ import annotations

import os
from pathlib import Path

import shapely

from ..borders import Theatre, default_theatre
from .base import ImportReport, Store, StoredFeature, VersionInfo
from .gpkg import GeoPackageStore, default_store_path

__all__ = [
    "Store",
    "VersionInfo",
    "StoredFeature",
    "ImportReport",
    "GeoPackageStore",
    "open_store",
    "init_store",
    "theatre_of",
    "default_store_path",
]


def init_store(path: Path | str | None = None, sides=("ua", "ru")) -> GeoPackageStore:
    """Create a store with the theatre's borders copied into it.

    Parameters
    ----------
    path
        Store file; ``$FRONTLINE_STORE`` or ``./frontline.gpkg`` when None.
    sides
        The two sides; their homes are Ukraine and Russia's theatre part.
    """
    th = default_theatre()
    regions = {f"home:{side}": ("home", g) for side, g in th.homes.items()}
    regions |= {f"country:{a3}": ("country", g) for a3, g in th.countries.items()}
    if is_server_url(path):
        from .postgis import PostGISStore

        return PostGISStore.create(str(path), regions, sides)  # type: ignore[return-value]  # same interface
    return GeoPackageStore.create(Path(path) if path else default_store_path(), regions, sides)


def open_store(path: Path | str | None = None, readonly: bool = False) -> GeoPackageStore:
    """Open an existing store (``$FRONTLINE_STORE`` or ``./frontline.gpkg`` when None).

    A ``postgresql://`` URL opens the PostGIS backend (``docs/postgis.md``); anything else is a GeoPackage file.
    """
    target = str(path) if path else os.environ.get("FRONTLINE_STORE", "")
    if is_server_url(target):
        from .postgis import PostGISStore

        return PostGISStore(target, readonly=readonly)  # type: ignore[return-value]  # same interface
    return GeoPackageStore(Path(path) if path else default_store_path(), readonly=readonly)


def is_server_url(path: Path | str | None) -> bool:
    """Whether ``path`` names a PostGIS server store (``postgresql://…``) rather than a file."""
    return str(path or "").startswith(("postgresql://", "postgres://"))


_THEATRES: dict[str, Theatre] = {}


def theatre_of(store: GeoPackageStore) -> Theatre:
    """The theatre saved in a store (cached by the content of its borders)."""
    import hashlib

    key = getattr(store, "_theatre_key", None)  # regions are written once, at init: hash them once per handle
    if key is None:
        h = hashlib.blake2b(digest_size=16)
        for (blob,) in store.db.execute("SELECT geom FROM regions ORDER BY fid"):
            h.update(blob)
        key = store._theatre_key = h.hexdigest()  # same borders, same tiles: tiling costs seconds, so share them
    if key not in _THEATRES:
        regs = store.regions()
        homes = {name.split(":", 1)[1]: g for name, (kind, g) in regs.items() if kind == "home"}
        countries = {name.split(":", 1)[1]: g for name, (kind, g) in regs.items() if kind == "country"}
        for g in homes.values():
            shapely.prepare(g)
        _THEATRES[key] = Theatre(homes=homes, countries=countries)
    return _THEATRES[key]
