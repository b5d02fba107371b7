"""The normalised control model every source is turned into.

A *control map* at one time is a partition of the theatre into ground held by
each side and contested (grey) ground, plus point layers. Sources differ in how
they draw it; analysis code only ever sees this model.

Raw source features are classified into a :class:`Status` and, for polygons,
a *role* that says how they enter the partition:

``held``        ground held by ``side`` (e.g. DeepState "occupied" → ``ru``)
``contested``   grey zone, held by nobody
``label``       drawn on the map but not control (e.g. "liberated" history
                labels inside Ukraine); kept, never counted
``excluded``    political jokes and anything out of the theatre; kept, never counted
``unclassified`` a key or style we do not know; kept and reported, never counted
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: shapely loads where geometry is made, not with every command
    from shapely.geometry.base import BaseGeometry

DEFAULT_SIDES: tuple[str, str] = ("ua", "ru")

ROLE_HELD = "held"
ROLE_CONTESTED = "contested"
ROLE_LABEL = "label"
ROLE_EXCLUDED = "excluded"
ROLE_UNCLASSIFIED = "unclassified"
ROLES = (ROLE_HELD, ROLE_CONTESTED, ROLE_LABEL, ROLE_EXCLUDED, ROLE_UNCLASSIFIED)

CONTESTED = "contested"  # the pseudo-side used for grey ground in tables

POINT_KINDS = ("direction", "unit", "hq", "marker")


def utc(ts: float | int | datetime) -> datetime:
    """A timezone-aware UTC datetime from epoch seconds or a datetime."""
    if isinstance(ts, datetime):
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(ts), tz=UTC)


def iso(ts: float | int | datetime | None) -> str | None:
    """ISO-8601 UTC text (``2025-03-06T22:47:05Z``) or None."""
    if ts is None:
        return None
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RawFeature:
    """One feature of a source snapshot after parsing and classification.

    ``geometry`` is 2-D lon/lat and already repaired; ``repaired`` says whether
    repair was needed. ``key`` is the source's own class key (DeepState's
    ``status.occupied``), ``role``/``side`` say how it enters the partition.
    """

    geometry: BaseGeometry
    kind: str  # "area" or one of POINT_KINDS
    key: str
    role: str
    side: str | None = None
    name: str = ""
    name_en: str = ""
    at: str | None = None  # a date label the source attached ("25.03", "27.03 - 29.03")
    bearing: float | None = None  # directions of attack, degrees clockwise from north
    props: dict[str, Any] = field(default_factory=dict)
    repaired: bool = False
    # How ground drawn as held by ``side`` outside its home counts: "part" counts
    # every part outside home; "majority" only when most of the polygon lies
    # outside home (DeepState's "liberated" history labels overshoot the border).
    abroad_rule: str = "part"


@dataclass
class Snapshot:
    """One version of one source, ready for import: metadata, feature hashes and a way to parse each feature.

    ``valid_time`` is when the situation refers to; ``published_at`` and ``revised_at`` are when the source
    published and last revised it (a later ``revised_at`` on the same ``version_id`` is a revision, not a new
    version). ``parse(i)`` returns ``(RawFeature | None, note)`` for feature ``i``; the importer calls it only for
    features the store has not seen (by ``hashes[i]``), which is what makes a re-import of 1,359 versions cheap.
    ``features`` keeps the source's own records when a reader has them (DeepState's GeoJSON feature dicts).
    """

    source: str
    version_id: str
    valid_time: Any
    published_at: Any
    revised_at: Any
    origin: str  # file or URL it came from, for messages
    content_hash: str
    hashes: list[bytes]
    parse: Callable[[int], tuple[RawFeature | None, str | None]] | None
    features: list[Any] | None = None


class ControlMap:
    """The partition of the theatre at one time, in lon/lat.

    ``held`` maps each side to a (Multi)Polygon; ``contested`` is the grey
    zone. The three are disjoint and together cover ``theatre``. ``theatre``
    and ``contested`` may be given as zero-argument callables, evaluated on
    first use (unions of many pieces are costly and many analyses never need
    them).
    ``control`` is the :class:`frontline.normalise.VersionControl` the map was
    built from, when it came from a store.
    """

    def __init__(
        self,
        source: str,
        version_id: str,
        valid_time: datetime,
        held: Mapping[str, BaseGeometry],
        contested: BaseGeometry | Callable[[], BaseGeometry],
        theatre: BaseGeometry | Callable[[], BaseGeometry] | None = None,
        points: list | None = None,
        published_at: datetime | None = None,
        revised_at: datetime | None = None,
        control: Any = None,
    ):
        self.source, self.version_id, self.valid_time = source, version_id, valid_time
        self.held = held
        # contested and theatre may be given as functions: computed on first use (see the properties)
        self._contested, self._theatre = contested, theatre
        self.points = points or []
        self.published_at, self.revised_at = published_at, revised_at
        self.control = control

    @property
    def theatre(self) -> BaseGeometry | None:
        if callable(self._theatre):
            self._theatre = self._theatre()
        return self._theatre

    @property
    def contested(self) -> BaseGeometry:
        if callable(self._contested):
            self._contested = self._contested()
        return self._contested

    def clipped(self, window: BaseGeometry, snap: bool = True) -> ControlMap:
        """This map cut to ``window`` (lon/lat polygon), snapped to a 1e-7° (1 cm) grid unless ``snap`` is False.

        Local questions (roads, settlements near a place, a salient) need the
        partition only there; from a store it is built from the tile parts
        near the window, never from whole held ground. The snap matters: ground
        and grey zone drawn a hair apart can turn invalid once projected to
        metres, and GEOS then fails.
        """
        import shapely

        def fix(g):
            return g if g is None or g.is_empty or not snap else shapely.set_precision(g, 1e-7)

        if self.control is not None and hasattr(self.control, "local"):
            held, contested, theatre = self.control.local(window)
        else:
            held = {s: shapely.intersection(g, window) for s, g in self.held.items()}
            contested = shapely.intersection(self.contested, window) if self.contested is not None else None
            theatre = shapely.intersection(self.theatre, window) if self.theatre is not None else None
        return ControlMap(
            self.source,
            self.version_id,
            self.valid_time,
            held={s: fix(g) for s, g in held.items()},
            contested=fix(contested),
            theatre=fix(theatre),
            points=self.points,
            published_at=self.published_at,
            revised_at=self.revised_at,
        )

    @property
    def sides(self) -> tuple[str, ...]:
        return tuple(self.held)

    def __repr__(self) -> str:
        return f"ControlMap({self.source} {self.version_id} at {iso(self.valid_time)})"


@dataclass
class Event:
    """One geolocated event (a strike, a unit seen, a claim of capture), as every event reader gives it.

    ``time`` epoch seconds; ``precision_m`` how far the point may be off; ``side`` whose action it was;
    ``type`` the reader's category; ``source_id`` the feed's own id; ``props`` anything else the record had.
    See :mod:`frontline.sources.events` for how each format fills them.
    """

    time: int
    lon: float
    lat: float
    precision_m: float | None = None
    side: str | None = None
    type: str = "other"
    source_url: str = ""
    confidence: float | None = None
    title: str = ""
    source_id: str = ""
    origin: str = ""
    props: dict[str, Any] = field(default_factory=dict)
    event_id: int | None = None

    def uid(self) -> str:
        """Content hash: the same event imported twice is stored once."""
        key = json.dumps(
            [
                self.source_id or None,
                self.time,
                round(self.lon, 6),
                round(self.lat, 6),
                self.type,
                self.side,
                self.source_url,
                self.title,
            ],
            ensure_ascii=False,
        )
        return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = iso(self.time)
        return d
