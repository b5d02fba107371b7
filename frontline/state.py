"""The control map at a time, read back from the store, and the one place times become versions.

``state_at`` is the entry point analysis code uses: it finds the version valid
at a time, reads its features from their validity intervals, and rebuilds the
partition from stored pieces (home complements only when asked for).

Stale answers have one rule, :func:`staleness`: a time on a later (UTC) day
than the last version, or more than ``--max-age`` (``$FRONTLINE_MAX_AGE``,
default 7 days) after the version that answers it. :func:`resolve` (the
lookup every command uses, through :func:`resolve_version` and
:func:`state_at`) returns the version with that :class:`Staleness` note;
:func:`resolve_version` reports it (the CLI: one line on stderr) or raises
:class:`StaleTimeError` in strict mode (:class:`TimePolicy`); the web app
puts it in the answer's ``warnings``.
:func:`versions_between` raises :class:`EmptyRangeError` for a range without
versions, naming the nearest ones.

Bi-temporal reads: ``known_at=T`` (or the policy's ``known_at``, set by the
CLI's ``--as-known-at``) answers as the source had published it by ``T``:
among the versions known then, each in the revision current then
(:mod:`frontline.store.known_at`; :func:`as_known` wraps a store so).
"""

from __future__ import annotations

import os
import warnings
from bisect import bisect_right
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace

from .errors import InputError, NoVersionError
from .model import ControlMap, iso, utc
from .normalise import LazyHeld, PartitionBuilder, VersionControl
from .store import GeoPackageStore, StoredFeature, VersionInfo, theatre_of
from .store.known_at import KnownAtView, known_at_view
from .times import DAY, Role, TimeLike, describe_age, parse_duration, parse_time

_BUILDERS: dict[int, PartitionBuilder] = {}


def _snapshot(store) -> AbstractContextManager:
    """The store's consistent read snapshot (a store without one reads as it goes)."""
    snap = getattr(store, "snapshot", None)
    return snap() if snap is not None else nullcontext()


def version_control(store: GeoPackageStore, version: VersionInfo) -> VersionControl:
    """The partition of one stored version."""
    with _snapshot(store):  # the members and their pieces from one state of the store
        fids = store.member_fids(version)
        pieces = store.pieces(fids)
    th = theatre_of(store)
    builder = _BUILDERS.setdefault(id(th), PartitionBuilder(th))
    return builder.build(pieces.values())


# -- time policy: how far a time may be from the version that answers it ---------------------------
DEFAULT_MAX_AGE_S = 7 * DAY
MAX_AGE_ENV = "FRONTLINE_MAX_AGE"


class StaleTimeWarning(UserWarning):
    """A time answered by a version far older than it (or after the last version)."""


class StaleTimeError(NoVersionError):
    """A stale time refused in strict mode; ``note`` is the :class:`Staleness`."""

    def __init__(self, message: str, note: Staleness | None = None):
        super().__init__(message)
        self.note = note


class EmptyRangeError(NoVersionError):
    """No version lies in a time range."""


def _env_max_age() -> int | None:
    raw = os.environ.get(MAX_AGE_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_AGE_S
    return parse_duration(raw, name=f"${MAX_AGE_ENV}")


@dataclass(frozen=True)
class TimePolicy:
    """What counts as stale and what to do about it.

    Attributes
    ----------
    max_age_s
        A time more than this many seconds after the version that answers it
        is stale (None: no limit). Default ``$FRONTLINE_MAX_AGE`` or 7 days.
    strict
        Refuse stale times (:class:`StaleTimeError`) instead of warning.
    report
        Called with each warning's text (the CLI prints it on stderr); None
        issues a :class:`StaleTimeWarning`.
    known_at
        Read the store as the source had published it by this time (epoch
        seconds; :mod:`frontline.store.known_at`); None: as it is now.
    note
        Called with the line saying which revision answers a time read as
        known at ``known_at`` (the CLI prints it on stderr); None: silent.
    """

    max_age_s: int | None = DEFAULT_MAX_AGE_S
    strict: bool = False
    report: Callable[[str], None] | None = None
    known_at: int | None = None
    note: Callable[[str], None] | None = None


_POLICY: ContextVar[TimePolicy | None] = ContextVar("frontline_time_policy", default=None)


def time_policy() -> TimePolicy:
    """The policy in force: the one set by :func:`set_time_policy`, else defaults from the environment."""
    p = _POLICY.get()
    return p if p is not None else TimePolicy(max_age_s=_env_max_age())


def set_time_policy(**changes) -> Token:
    """Change fields of the policy in force (``max_age_s``, ``strict``, ``report``); returns a reset token.

    Examples
    --------
    >>> tok = set_time_policy(strict=True)
    >>> reset_time_policy(tok)
    """
    return _POLICY.set(replace(time_policy(), **changes))


def reset_time_policy(token: Token) -> None:
    """Undo a :func:`set_time_policy`."""
    _POLICY.reset(token)


@dataclass(frozen=True)
class Staleness:
    """Why a version is a doubtful answer for a time.

    Attributes
    ----------
    asked
        The time asked (epoch seconds).
    version
        The version that answers it (the latest at or before ``asked``).
    last
        The store's last version of the source.
    age_s
        ``asked - version.valid_time``.
    after_last
        ``asked`` is on a later (UTC) day than the last version.
    max_age_s
        The limit in force (None: none).
    """

    asked: int
    version: VersionInfo
    last: VersionInfo
    age_s: int
    after_last: bool
    max_age_s: int | None

    @property
    def fact(self) -> str:
        """What is doubtful, in one sentence without a verdict."""
        v, age = self.version, describe_age(self.age_s)
        if self.after_last:
            return (
                f"{iso(self.asked)} is after the last version in the store, {v.version_id} of "
                f"{iso(v.valid_time)} ({age} earlier)"
            )
        return (
            f"{iso(self.asked)} is {age} after the version valid then, {v.version_id} of {iso(v.valid_time)} "
            f"(the limit is {describe_age(self.max_age_s or 0)}: --max-age or ${MAX_AGE_ENV}); "
            "the store holds no version in between"
        )

    @property
    def message(self) -> str:
        """The warning: the fact and what was answered."""
        return f"{self.fact}; answered with that version."

    def as_dict(self) -> dict:
        """JSON-ready fields (stable names)."""
        return {
            "asked_time": iso(self.asked),
            "version_id": self.version.version_id,
            "version_time": iso(self.version.valid_time),
            "age_s": self.age_s,
            "after_last_version": self.after_last,
            "max_age_s": self.max_age_s,
            "message": self.message,
        }


def staleness(version: VersionInfo, asked: int, last: VersionInfo, *, max_age_s: int | None = None) -> Staleness | None:
    """The one rule for stale answers: None when ``version`` is a sound answer for time ``asked``.

    Stale when ``asked`` falls on a later UTC day than the ``last`` version
    (the store cannot know what happened since), or ``asked`` is more than
    ``max_age_s`` after ``version`` (a gap in the store).
    """
    age = int(asked - version.valid_time)
    after_last = asked >= (last.valid_time // DAY + 1) * DAY
    gap = max_age_s is not None and age > max_age_s
    if not (after_last or gap):
        return None
    return Staleness(
        asked=int(asked), version=version, last=last, age_s=age, after_last=after_last, max_age_s=max_age_s
    )


@dataclass(frozen=True)
class Resolved:
    """A time resolved to a version.

    Attributes
    ----------
    version
        The version valid at the time (the latest when no time was given).
    asked
        The time asked in epoch seconds (None: the latest version was asked for).
    note
        A :class:`Staleness` when the version is a doubtful answer, else None.
    """

    version: VersionInfo
    asked: int | None = None
    note: Staleness | None = None


def _versions(store: GeoPackageStore, source: str | None) -> tuple[str, list[VersionInfo]]:
    source = store.default_source(source)
    versions = store.versions(source)
    if not versions and isinstance(store, KnownAtView):
        raise NoVersionError(
            f"No version of {source} was known at {iso(store.known_at)} (--as-known-at): "
            "none was published or imported by then."
        )
    if not versions:
        raise NoVersionError(f"The store holds no versions of {source}: import some first (frontline import PATH).")
    return source, versions


def as_known(store: GeoPackageStore, known_at: TimeLike = None) -> GeoPackageStore:
    """``store`` read as known at ``known_at`` (else the policy's ``known_at``; the store itself when neither)."""
    t = parse_time(known_at, name="as-known-at") if known_at not in (None, "") else time_policy().known_at
    if t is None:
        return store
    if isinstance(store, KnownAtView) and store.known_at == t:
        return store
    return known_at_view(store, t)


def resolve(
    store: GeoPackageStore,
    at: TimeLike = None,
    source: str | None = None,
    *,
    role: Role = "at",
    policy: TimePolicy | None = None,
    known_at: TimeLike = None,
) -> Resolved:
    """The version valid at ``at``, with a staleness note; the check every time lookup goes through.

    Parameters
    ----------
    store
        An open store.
    at
        A time (:func:`frontline.times.parse_time`) or ``"latest"``/None for
        the latest version.
    source
        Source name; the default source when None.
    role
        How a bare date is read: ``"at"``/``"end"`` its end, ``"start"`` its start.
    policy
        The limits; :func:`time_policy` when None.
    known_at
        Answer as the source had published it by this time: among the
        versions known then, in the revision current then (see
        :mod:`frontline.store.known_at`); the policy's ``known_at`` when None.

    Returns
    -------
    Resolved

    Raises
    ------
    ValueError
        When the time cannot be read, the store holds no version, or the
        time is before the first version.
    StaleTimeError
        When the answer is stale and the policy is strict.
    """
    policy = policy or time_policy()
    if known_at is None and policy.known_at is not None:
        known_at = policy.known_at
    store = as_known(store, known_at)
    source, versions = _versions(store, source)
    if at is None or (isinstance(at, str) and at.strip() in ("", "latest")):
        return _noted(store, Resolved(versions[-1]), policy)
    t = parse_time(at, role=role)
    assert t is not None  # None only for an empty time, answered above
    if t < versions[0].valid_time:
        raise NoVersionError(f"No version of {source} at {iso(t)}: the first is {iso(versions[0].valid_time)}.")
    v = versions[bisect_right([x.valid_time for x in versions], t) - 1]
    note = staleness(v, t, versions[-1], max_age_s=policy.max_age_s)
    if note is not None and policy.strict:
        raise StaleTimeError(f"{note.fact}; refused in strict mode (--strict).", note)
    return _noted(store, Resolved(v, t, note), policy)


def _noted(store, r: Resolved, policy: TimePolicy) -> Resolved:
    """Say which revision answers a time read as known at a time (the policy's ``note``)."""
    if isinstance(store, KnownAtView) and policy.note is not None:
        policy.note(store.note(r.version))
    return r


def report_note(message: str, policy: TimePolicy | None = None) -> None:
    """Tell the user about a doubtful answer: the policy's ``report`` or a :class:`StaleTimeWarning`."""
    policy = policy or time_policy()
    if policy.report is not None:
        policy.report(message)
    else:
        warnings.warn(message, StaleTimeWarning, stacklevel=3)


def resolve_version(
    store: GeoPackageStore,
    at: TimeLike = None,
    source: str | None = None,
    *,
    role: Role = "at",
    known_at: TimeLike = None,
) -> VersionInfo:
    """The version valid at ``at`` (ISO text or epoch seconds; the latest when None).

    A stale answer (see :func:`staleness`) is reported by :func:`report_note`,
    or raises :class:`StaleTimeError` in strict mode; :func:`resolve` returns
    the note instead. ``known_at``: as for :func:`resolve`.
    """
    r = resolve(store, at, source, role=role, known_at=known_at)
    if r.note is not None:
        report_note(r.note.message)
    return r.version


def versions_between(
    store: GeoPackageStore,
    start: TimeLike = None,
    end: TimeLike = None,
    source: str | None = None,
    *,
    known_at: TimeLike = None,
) -> list[VersionInfo]:
    """Versions with ``start <= valid time <= end`` (``start`` read as a range start, ``end`` as its end).

    ``known_at``: only the versions known then, each in its revision then
    (the policy's ``known_at`` when None; see :func:`resolve`).

    Raises
    ------
    EmptyRangeError
        When no version lies in the range (the message names the nearest ones).
    ValueError
        When a time cannot be read or the range is inverted.
    """
    source, versions = _versions(as_known(store, known_at), source)
    t0, t1 = parse_time(start, role="start", name="from"), parse_time(end, role="end", name="to")
    if t0 is not None and t1 is not None and t0 > t1:
        raise InputError(f"the range is inverted: from {iso(t0)} is after to {iso(t1)}.", field="from")
    inside = [v for v in versions if (t0 is None or v.valid_time >= t0) and (t1 is None or v.valid_time <= t1)]
    if not inside:
        raise EmptyRangeError(empty_range_message(versions, t0, t1, source))
    return inside


def empty_range_message(versions: list[VersionInfo], t0: int | None, t1: int | None, source: str) -> str:
    """``No version of <source> from … to …`` with the nearest versions before and after."""
    before = [v for v in versions if t0 is not None and v.valid_time < t0]
    after = [v for v in versions if t1 is not None and v.valid_time > t1]
    near = []
    if before:
        near.append(f"the last before is {before[-1].version_id} ({iso(before[-1].valid_time)})")
    if after:
        near.append(f"the first after is {after[0].version_id} ({iso(after[0].valid_time)})")
    span = f"from {iso(t0) if t0 is not None else 'the start'} to {iso(t1) if t1 is not None else 'the end'}"
    return f"No version of {source} {span}" + (f": {'; '.join(near)}." if near else ".")


def range_note(
    store: GeoPackageStore, end: TimeLike, source: str | None = None, policy: TimePolicy | None = None
) -> Staleness | None:
    """A note when a range's ``end`` is stale (after the last version's day, or past the gap limit).

    Raises :class:`StaleTimeError` in strict mode instead.
    """
    if end is None or end == "":
        return None
    r = resolve(store, end, source, role="end", policy=policy)
    return r.note


def state_at(
    store: GeoPackageStore, at: TimeLike = None, source: str | None = None, *, known_at: TimeLike = None
) -> tuple[ControlMap, list[StoredFeature]]:
    """The control map valid at a time and the version's stored features.

    Parameters
    ----------
    store
        An open store.
    at
        ISO time or epoch seconds (a bare date: the end of that day); the
        latest version when None.
    source
        Source name; the default source when None.
    known_at
        The map as the source had published it by this time (see
        :func:`resolve`); the policy's ``known_at`` when None.

    Returns
    -------
    tuple
        ``(ControlMap, features)``; ``ControlMap.held`` computes each side's
        ground on first access.

    Raises
    ------
    ValueError
        When the time is before the first version or cannot be read;
        :class:`StaleTimeError` for a stale time in strict mode (otherwise it
        is reported, see :func:`resolve_version`).
    """
    with _snapshot(store):  # a writer committing meanwhile (a revision of v) must not mix two states
        v = resolve_version(store, at, source, known_at=known_at)
        vc = version_control(store, v)
        feats = store.features_at(v)
    points = [f for f in feats if f.kind != "area"]
    cmap = ControlMap(
        source=v.source,
        version_id=v.version_id,
        valid_time=utc(v.valid_time),
        held=LazyHeld(vc),
        contested=lambda: vc.contested,
        theatre=lambda: vc.theatre.geom,
        points=points,
        published_at=utc(v.published_at) if v.published_at else None,
        revised_at=utc(v.revised_at) if v.revised_at else None,
        control=vc,
    )
    return cmap, feats
