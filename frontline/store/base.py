"""The store interface: what analysis code may ask of any backend.

A store keeps, per source, the versions it has seen (with their revisions),
each distinct feature once with the time intervals it was valid for, the
pieces that say how a feature enters the partition, and per-version areas.
The embedded GeoPackage backend (:mod:`frontline.store.gpkg`) is the default;
a server backend (PostGIS) implements the same methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry


@dataclass
class VersionInfo:
    """One version of one source as stored."""

    pk: int
    source: str
    version_id: str
    valid_time: int  # epoch seconds: when the situation refers to
    published_at: int | None
    revised_at: int | None
    revision: int
    content_hash: str
    origin: str
    n_features: int = 0


@dataclass
class StoredFeature:
    """A distinct feature with its classification and geometry (lon/lat)."""

    fid: int
    fkey: bytes
    kind: str
    key: str
    role: str
    side: str | None
    name: str
    name_en: str
    at: str | None
    bearing: float | None
    props: dict[str, Any]
    geometry: BaseGeometry
    repaired: bool = False


@dataclass
class ImportReport:
    """What an import did, with every problem named by file."""

    added: int = 0
    revised: int = 0
    unchanged: int = 0
    failed: int = 0
    new_features: int = 0
    repaired: int = 0
    skipped_features: int = 0
    unclassified: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (origin, message)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("added", "revised", "unchanged", "failed", "new_features",
                                              "repaired", "skipped_features", "unclassified")} | {
            "problems": [{"origin": o, "message": m} for o, m in self.problems]}


class Store(ABC):
    """Interface every backend implements. All times are epoch seconds (UTC)."""

    # -- lifecycle ----------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...

    # -- regions ------------------------------------------------------------
    @abstractmethod
    def regions(self) -> dict[str, tuple[str, BaseGeometry]]:
        """``name → (kind, geometry)`` of the stored regions (homes, countries)."""

    # -- versions -----------------------------------------------------------
    @abstractmethod
    def sources(self) -> list[str]: ...

    @abstractmethod
    def versions(self, source: str | None = None) -> list[VersionInfo]:
        """Versions ordered by valid time."""

    @abstractmethod
    def version_at(self, t: int, source: str | None = None) -> VersionInfo | None:
        """The latest version valid at time ``t`` (None if before the first)."""

    @abstractmethod
    def revisions(self, source: str, version_id: str) -> list[dict]: ...

    # -- features -----------------------------------------------------------
    @abstractmethod
    def features_at(self, version: VersionInfo, kinds: Sequence[str] | None = None) -> list[StoredFeature]:
        """Features present in a version (from their validity intervals)."""

    @abstractmethod
    def feature_history(self, fid: int) -> list[tuple[int, int | None]]:
        """Validity intervals ``[from, to)`` of one feature (to=None: still valid)."""

    @abstractmethod
    def changed_features(self, a: VersionInfo, b: VersionInfo) -> tuple[list[int], list[int]]:
        """Feature ids ``(removed, added)`` going from version a to version b."""

    @abstractmethod
    def version_members(self, source: str) -> Iterator[tuple[VersionInfo, list[int]]]:
        """Every version with the ids of its features, in time order."""

    @abstractmethod
    def pieces(self, fids: Sequence[int]) -> dict[int, Any]:
        """The partition pieces of features (see :mod:`frontline.normalise`)."""

    @abstractmethod
    def spans_of(self, source: str, fids: Sequence[int]) -> list[tuple[int, int, int | None]]:
        """Validity intervals of many features at once.

        Parameters
        ----------
        source
            Source name in the store.
        fids
            Feature ids.

        Returns
        -------
        list of tuple
            ``(fid, valid_from, valid_to)`` per interval ``[from, to)``, epoch
            seconds, ``valid_to`` None while still valid; in no particular order.
        """

    @abstractmethod
    def counted_pieces_in_tiles(self, source: str, tiles: dict[str, Sequence]) -> list[tuple[int, str, str, bytes]]:
        """Partition pieces of counted features in given tiles of the homes, as raw WKB rows.

        Parameters
        ----------
        source
            Source name in the store.
        tiles
            ``home name → tile ids`` (the theatre's tiling of that home).

        Returns
        -------
        list of tuple
            ``(fid, home, what, wkb)`` per piece (drawn pieces and features
            that do not count left out); a feature's piece comes once per tile.
        """

    # -- areas --------------------------------------------------------------
    @abstractmethod
    def area_rows(self, source: str, region: str, convention: str) -> list[tuple[int, str, float]]:
        """``(version pk, side, km²)`` rows precomputed at import."""
