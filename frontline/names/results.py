"""What a name search answers: :class:`Match` (one candidate place) and :class:`Resolution` (the verdict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .keys import match_kind

__all__ = ["Match", "Resolution"]


@dataclass(frozen=True)
class Match:
    """One place a query may refer to.

    Attributes
    ----------
    id
        The record's id as given to :class:`NameIndex`.
    name
        The name of the record that matched best (may be an alternate name).
    score
        :func:`similarity` between the query and ``name``.
    index
        Position of the record in the order the index was built from (the row
        of the gazetteer for :meth:`NameIndex.from_gazetteer`).
    distance_km
        Distance from the ``near`` point, when one was given.
    primary
        The record's primary (official, current) name.
    theatre_km
        Distance from the index's theatre box (0 inside it), when the index
        has one.
    own_name
        Whether ``name`` is the place's primary name or a spelling of it
        (same :func:`match_key`), rather than a former or other name.
    """

    id: Any
    name: str
    score: float
    index: int = -1
    distance_km: float | None = None
    primary: str = ""
    theatre_km: float | None = None
    own_name: bool = True

    @property
    def kind(self) -> str:
        """How ``name`` relates to the place's official name (see :func:`match_kind`)."""
        return match_kind(self.primary or self.name, self.name)


@dataclass
class Resolution:
    """What a name refers to.

    Attributes
    ----------
    status
        ``"resolved"``: one place; ``"ambiguous"``: several distinct places
        score within the margin of the best; ``"unknown"``: nothing scores
        high enough (``candidates`` then holds suggestions, if any).
    best
        The top match; for ``"ambiguous"`` it is only the first of equals and
        must not be used as an answer.
    candidates
        The matches considered, best first.
    query
        The name asked for.
    reason
        A sentence a user can read, saying why this status.
    """

    status: str
    best: Match | None
    candidates: list[Match] = field(default_factory=list)
    query: str = ""
    reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"
