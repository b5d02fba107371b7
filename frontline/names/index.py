"""The name index: :class:`NameIndex`, places found by name and ranked by match, theatre and population.

:meth:`NameIndex.resolve` never guesses silently: it answers ``"ambiguous"`` when several distinct places
score close to the top, and ``"unknown"`` when nothing scores high enough or only places far outside the
theatre match.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..gazetteer import check_bbox
from .distance import FUZZY_CAP, KEY_BAND, _band, _myers, _pattern_masks, _score
from .keys import _keys_of_normalised
from .results import Match, Resolution
from .tables import _csr, _trigram_codes
from .theatre import THEATRE_BBOX, THEATRE_SLACK_KM, _box_km, _haversine_km
from .translit import _normalise_many, normalise

__all__ = ["NameIndex"]


def _entries(records: Iterable[tuple[Hashable, Sequence[str] | str]]) -> tuple[list, list[int], list[int], list[str]]:
    """(ids, first entry of each record, record of each entry, name of each entry) from ``(id, names)`` pairs."""
    ids: list[Any] = []
    primary: list[int] = []  # first entry of each record: its primary name
    entry_rec: list[int] = []
    entry_name: list[str] = []
    for pos, rec in enumerate(records):
        try:
            rid, names = rec
        except (TypeError, ValueError):
            raise ValueError(f"Record {pos} must be an (id, names) pair, got {rec!r}.") from None
        if isinstance(names, str):
            names = [names]
        ids.append(rid)
        primary.append(len(entry_name))
        for nm in dict.fromkeys(names):  # drop repeats, keep order
            if isinstance(nm, str) and nm.strip():
                entry_rec.append(pos)
                entry_name.append(nm)
    return ids, primary, entry_rec, entry_name


def _numbered(values: list[str], *, keep_empty: bool) -> tuple[dict[str, int], np.ndarray]:
    """A number per distinct value in order of first appearance, and each value's number.

    Parameters
    ----------
    values
        The strings to number.
    keep_empty
        Whether "" is numbered like any value; if not, its entries get -1.
    """
    number: dict[str, int] = {}
    codes = np.fromiter(
        (number.setdefault(v, len(number)) if (v or keep_empty) else -1 for v in values),
        dtype=np.int64,
        count=len(values),
    )
    return number, codes


def _check_lonlat(lonlat, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(lon, lat) arrays of ``n`` records, or (None, None) without coordinates."""
    if lonlat is None:
        return None, None
    arr = np.asarray(lonlat, dtype=float)
    if arr.ndim != 2 or arr.shape != (n, 2):
        raise ValueError(
            f"lonlat must give one (lon, lat) pair per record: {n} records, got an array of shape {arr.shape}."
        )
    return arr[:, 0].copy(), arr[:, 1].copy()


def _check_population(population, n: int) -> np.ndarray | None:
    """Population of ``n`` records (NaN read as 0), or None."""
    if population is None:
        return None
    pop = np.asarray(population, dtype=float)
    if pop.shape != (n,):
        raise ValueError(f"population must have one value per record: {n} records, got {pop.shape}.")
    return np.nan_to_num(pop)


def _check_near(near) -> tuple[float, float, float]:
    """A ``(lon, lat, radius_km)`` triple as floats."""
    try:
        nlon, nlat, radius = (float(v) for v in near)
    except (TypeError, ValueError):
        raise ValueError(f"near must be (lon, lat, radius_km), got {near!r}.") from None
    if not (-180 <= nlon <= 180 and -90 <= nlat <= 90) or not radius > 0:
        raise ValueError(
            f"near must be (lon, lat, radius_km) with lon/lat in degrees and a positive radius, got {near!r}."
        )
    return nlon, nlat, radius


def _split_by_theatre(matches: list[Match]) -> tuple[list[Match], list[Match]]:
    """(in the theatre, farther than :data:`THEATRE_SLACK_KM` outside it) of matches that know their distance."""
    known = [(m, m.theatre_km) for m in matches if m.theatre_km is not None]
    return [m for m, km in known if km <= THEATRE_SLACK_KM], [m for m, km in known if km > THEATRE_SLACK_KM]


class NameIndex:
    """Fast, transliteration-tolerant lookup of places by name.

    Parameters
    ----------
    records
        ``(id, names)`` pairs: ``names`` is the primary name followed by any
        alternate names (a single string is taken as one name).
    lonlat
        Optional ``(lon, lat)`` per record, in the same order, so that
        :meth:`resolve` can use ``near`` and treat nearby duplicates as one
        place. An ``(n, 2)`` array works too.
    population
        Optional population per record, used to order matches of the same
        quality (the city before the hamlet); never to decide a resolution.
    theatre
        Optional ``(min_lon, min_lat, max_lon, max_lat)`` box of the area of
        interest (:data:`THEATRE_BBOX` for the war). With it, matches in the
        theatre rank before matches outside it, and :meth:`resolve` without
        ``near`` never picks a place outside it (Pokrovsk in Donetsk oblast,
        not in Yakutia). Needs ``lonlat``.

    Notes
    -----
    Every name is reduced to its normalised text and its :func:`match_key`.
    A query is answered from three sources: records whose normalised name or
    key equals the query's (dictionary hits), and the distinct keys that
    share the most trigrams with the query's key, which are then scored by
    edit distance. Scoring is done on distinct keys, not on names, so the
    work per query does not grow with the number of records sharing a key.
    """

    def __init__(
        self,
        records: Iterable[tuple[Hashable, Sequence[str] | str]],
        *,
        lonlat: Sequence[tuple[float, float]] | np.ndarray | None = None,
        population: Sequence[float] | np.ndarray | None = None,
        theatre: tuple[float, float, float, float] | None = None,
    ):
        ids, primary, entry_rec, entry_name = _entries(records)
        self._ids = ids
        self._primary_entry = primary
        n = len(ids)
        self._lon, self._lat = _check_lonlat(lonlat, n)
        self._pop = _check_population(population, n)
        self._country: np.ndarray | None = None  # set by from_gazetteer, for messages only
        self._theatre: tuple[float, float, float, float] | None = None
        self._theatre_km: np.ndarray | None = None
        if theatre is not None:
            if self._lon is None or self._lat is None:
                raise ValueError("theatre= needs coordinates: build the NameIndex with lonlat=.")
            self._theatre = check_bbox(theatre, "theatre")
            self._theatre_km = _box_km(self._theatre, self._lon, self._lat)
        self._entry_rec = np.asarray(entry_rec, dtype=np.int64)
        self._entry_name = entry_name
        self._build_tables(entry_name)

    def _build_tables(self, entry_name: list[str]) -> None:
        """The lookup tables: compact texts, match keys and key trigrams, each with its entries."""
        # Everything below works on distinct strings (gazetteers repeat names
        # a lot) and stores groups as numpy CSR arrays rather than dicts of
        # lists, so building stays at a few C-level passes per stage.
        distinct_names = list(dict.fromkeys(entry_name))
        norm_of_name = dict(zip(distinct_names, _normalise_many(distinct_names)))
        entry_norm = [norm_of_name[nm] for nm in entry_name]

        # compact text (normalised, no spaces) → entries, for exact hits and
        # the text part of the score
        cid_of, entry_cid = _numbered([nm.replace(" ", "") for nm in entry_norm], keep_empty=True)
        self._compacts = list(cid_of)
        self._cid_of = cid_of
        self._entry_cid = entry_cid
        self._cid_order, self._cid_start = _csr(entry_cid, len(cid_of))

        # match key → entries
        distinct_norms = list(dict.fromkeys(entry_norm))
        key_of_norm = dict(zip(distinct_norms, _keys_of_normalised(distinct_norms)))
        # (a name without letters or digits has no key: it belongs to no key group)
        kid_of, entry_kid = _numbered([key_of_norm[nm] for nm in entry_norm], keep_empty=False)
        self._keys = list(kid_of)
        self._kid_of = kid_of
        self._entry_kid = entry_kid
        self._kid_order, self._kid_start = _csr(entry_kid, len(kid_of))
        self._key_len = np.fromiter(map(len, self._keys), dtype=np.int32, count=len(self._keys))

        # trigram → distinct keys holding it
        owner, codes = _trigram_codes(self._keys)
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        self._tri_post = owner[order].astype(np.int32)
        is_first = np.ones(len(codes), dtype=bool)
        is_first[1:] = codes[1:] != codes[:-1]
        first = np.flatnonzero(is_first)
        self._tri_codes = codes[first]
        self._tri_start = np.append(first, len(codes)).astype(np.int64)

    # ---------------------------------------------------------------- build
    @classmethod
    def from_gazetteer(
        cls, gazetteer, *, alternates: bool = True, theatre: tuple[float, float, float, float] | None = THEATRE_BBOX
    ) -> NameIndex:
        """Index a :class:`frontline.sources.geonames.Gazetteer`.

        Parameters
        ----------
        gazetteer
            Anything with ``ids``, ``names``, ``lon``, ``lat`` arrays and an
            ``alternates`` list (``population`` is used when present).
        alternates
            Also index alternate names (Bakhmut is found as Artemovsk only
            through them).
        theatre
            The area whose places are preferred (see :class:`NameIndex`);
            the war's theatre by default, None for no preference.
        """
        names = gazetteer.names
        ids = gazetteer.ids.tolist() if hasattr(gazetteer.ids, "tolist") else list(gazetteer.ids)  # plain ints
        alts = gazetteer.alternates if alternates else None
        records = ((ids[i], [names[i], *(alts[i] if alts is not None else ())]) for i in range(len(names)))
        idx = cls(
            records,
            lonlat=np.column_stack([gazetteer.lon, gazetteer.lat]) if len(names) else np.zeros((0, 2)),
            population=getattr(gazetteer, "population", None),
            theatre=theatre if len(names) else None,
        )
        country = getattr(gazetteer, "country", None)
        if country is not None and len(country) == len(names):
            idx._country = country
        return idx

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[Any]:
        return list(self._ids)

    # --------------------------------------------------------------- search
    def _entries_with_key(self, kid: int) -> np.ndarray:
        return self._kid_order[self._kid_start[kid] : self._kid_start[kid + 1]]

    def _candidate_keys(self, q_key: str, max_keys: int) -> np.ndarray:
        if not self._keys:
            return np.zeros(0, dtype=np.int64)
        _, q_codes = _trigram_codes([q_key])
        at = np.searchsorted(self._tri_codes, q_codes)
        at = at[at < len(self._tri_codes)]
        at = at[np.isin(self._tri_codes[at], q_codes)]
        if len(at) == 0:
            return np.zeros(0, dtype=np.int64)
        parts = [self._tri_post[self._tri_start[t] : self._tri_start[t + 1]] for t in at]
        counts = np.bincount(np.concatenate(parts), minlength=len(self._keys))
        # Keys much longer or shorter than the query cannot be close in edit
        # distance; dropping them first keeps common trigrams ("evk" of every
        # -ivka/-ovka) from crowding out the real candidates.
        lq = len(q_key)
        slack = max(2, lq // 2)
        counts[np.abs(self._key_len - lq) > slack] = 0
        nz = np.flatnonzero(counts)
        if len(nz) > max_keys:
            top = np.argpartition(-counts[nz], max_keys - 1)[:max_keys]
            nz = nz[top]
        return nz

    def _score_all(self, query: str, min_score: float, max_keys: int) -> dict[int, tuple[float, int]]:
        """Best (score, entry) per record for every record scoring ≥ min_score."""
        q_norm = normalise(query)
        q_compact = q_norm.replace(" ", "")
        q_key = _keys_of_normalised([q_norm])[0]
        best: dict[int, tuple[float, int]] = {}

        q_fold = query.strip().casefold()

        def offer(entry: int, score: float) -> None:
            rec = int(self._entry_rec[entry])
            old = best.get(rec)
            # on a tie, show the name exactly as the user typed it (Угледар, not its Latin twin Ugledar)
            if (
                old is None
                or score > old[0]
                or (
                    score == old[0]
                    and self._entry_name[entry].casefold() == q_fold != self._entry_name[old[1]].casefold()
                )
            ):
                best[rec] = (score, entry)

        if not q_compact:
            return best
        cid = self._cid_of.get(q_compact)
        if cid is not None:
            for e in self._cid_order[self._cid_start[cid] : self._cid_start[cid + 1]]:
                offer(int(e), 1.0)
        if not q_key:
            return best
        compacts, entry_cid = self._compacts, self._entry_cid
        q_kid = self._kid_of.get(q_key)
        if q_kid is not None:
            for e in self._entries_with_key(q_kid):
                offer(int(e), _score(q_compact, q_key, compacts[entry_cid[e]], q_key))
        # A fuzzy match scores at most FUZZY_CAP: skip the trigram pass when
        # the caller would discard it anyway.
        if min_score > FUZZY_CAP:
            return best
        peq = _pattern_masks(q_key)
        lq = len(q_key)
        need = (min_score / FUZZY_CAP - 0.2) / 0.8  # key similarity below which no entry can reach min_score
        for k in self._candidate_keys(q_key, max_keys):
            if k == q_kid:
                continue
            key = self._keys[k]
            ks = 1.0 - _myers(peq, lq, key) / max(lq, len(key))
            if ks < need:
                continue
            for e in self._entries_with_key(k):
                s = _score(q_compact, q_key, compacts[entry_cid[e]], key, key_sim=ks)
                if s >= min_score:
                    offer(int(e), s)
        return {r: v for r, v in best.items() if v[0] >= min_score}

    def _to_matches(self, best: dict[int, tuple[float, int]]) -> list[Match]:
        tkm = self._theatre_km
        kid, cid, first = self._entry_kid, self._entry_cid, self._primary_entry
        out = [
            Match(
                id=self._ids[r],
                name=self._entry_name[e],
                score=round(s, 4),
                index=r,
                primary=self._entry_name[first[r]],
                theatre_km=None if tkm is None else round(float(tkm[r]), 1),
                own_name=bool(cid[e] == cid[first[r]] or (kid[e] >= 0 and kid[e] == kid[first[r]])),
            )
            for r, (s, e) in best.items()
        ]
        pop = self._pop
        # Quality first, by band (the same spelling; a transliteration variant; look-alikes in steps of
        # 0.05); then in-theatre before outside; then a place's own name before another place's former
        # name (Sloviansk is Slovyansk, not Nikopol, once called Slaviansk); then the larger place.
        out.sort(
            key=lambda m: (
                _band(m.score),
                0 if m.theatre_km is None or m.theatre_km <= THEATRE_SLACK_KM else 1,
                0 if m.own_name else 1,
                -(pop[m.index] if pop is not None else 0.0),
                -m.score,
                m.theatre_km or 0.0,
                m.index,
            )
        )
        return out

    def search(self, query: str, limit: int = 10, *, min_score: float = 0.6, max_keys: int = 400) -> list[Match]:
        """Places whose names are most like ``query``, best first.

        Parameters
        ----------
        query
            A name in any spelling.
        limit
            At most this many matches (one per record).
        min_score
            Drop matches scoring below this (see :func:`similarity`).
        max_keys
            How many distinct keys, picked by shared trigrams, are scored by
            edit distance. Exact and same-key matches are always included.

        Returns
        -------
        list of Match
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}.")
        return self._to_matches(self._score_all(query, min_score, max_keys))[:limit]

    def resolve(
        self,
        query: str,
        *,
        near: tuple[float, float, float] | None = None,
        min_score: float = KEY_BAND,
        margin: float = 0.1,
        same_place_km: float = 2.0,
        max_candidates: int = 50,
        dominant_ratio: float | None = 10.0,
    ) -> Resolution:
        """Decide which single place ``query`` names, or say it cannot.

        Parameters
        ----------
        query
            A name in any spelling.
        near
            ``(lon, lat, radius_km)``: only places within that distance count
            (for example the oblast or the sector a report is about). Needs
            the index to have been built with ``lonlat``.
        min_score
            The least score that counts as a match. The default, 0.9, accepts
            the same spelling and transliteration variants (same
            :func:`match_key`) but not mere look-alikes: "Lebedinka" is not
            taken for "Lebedevka". Lower it (e.g. 0.7) to accept spelling
            mistakes, at the price of more wrong guesses.
        margin
            Another distinct place within ``margin`` of the best score makes
            the answer ambiguous.
        same_place_km
            Matches this close to the best one are taken as duplicates of the
            same place (a gazetteer often lists a town and its administrative
            seat separately); they do not make the answer ambiguous.
        max_candidates
            At most this many candidates are returned.
        dominant_ratio
            When the best match is a place of at least 1,000 people and this
            many times larger than every rival, it is taken, and the reason
            names the smaller ones set aside (Avdiivka the town, not the
            villages of that name in Chernihiv oblast). None: population
            never decides.

        Returns
        -------
        Resolution

        Notes
        -----
        With a theatre (see :class:`NameIndex`) and no ``near``, places
        farther than :data:`THEATRE_SLACK_KM` outside it are set aside; when
        only such places match, the answer is ``"unknown"`` with them as
        candidates, never one of them. A place found through its own name
        (or a spelling of it) is not made ambiguous by another place found
        only through a former or other name (Toretsk is not Tikhoretsk,
        whose Spanish name is Tijoretsk).
        """
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, got {min_score}.")
        if margin < 0:
            raise ValueError(f"margin must not be negative, got {margin}.")
        point = None
        if near is not None:
            if self._lon is None:
                raise ValueError(
                    "near= needs coordinates: build the NameIndex with lonlat= (NameIndex.from_gazetteer does so)."
                )
            point = _check_near(near)

        # Suggestions for an unknown name come from a looser search.
        matches = self._to_matches(self._score_all(query, min(min_score, 0.6), 400))
        where = ""
        if point is not None:
            matches = self._within(matches, point)
            where = f" within {point[2]:g} km of ({point[0]:g}, {point[1]:g})"
        good = [m for m in matches if m.score >= min_score]

        set_aside = ""
        if point is None and self._theatre is not None and good:
            # Never pick a place far outside the theatre silently: the Pokrovsk of a claim is the one in
            # Donetsk oblast, and a name found only in Yakutia is not an answer but a question.
            inside, outside = _split_by_theatre(good)
            if not inside:
                return self._only_outside(query, outside, max_candidates)
            if outside:
                set_aside = (
                    f" ({len(outside)} place{'s' if len(outside) > 1 else ''} of that name outside "
                    "the theatre set aside)"
                )
            good = inside

        if not good:
            sugg = matches[:max_candidates]
            hint = f"; closest: {', '.join(repr(m.name) for m in sugg[:3])}" if sugg else ""
            return Resolution(
                "unknown", None, sugg, query, f"No place{where} matches {query!r} with score ≥ {min_score:g}{hint}."
            )

        best = good[0]
        rivals = self._rivals(best, good, max(min_score, best.score - margin), same_place_km)
        candidates = good[:max_candidates]
        if rivals and dominant_ratio is not None:
            dominance = self._dominance(best, rivals, dominant_ratio)
            if dominance:
                set_aside += dominance
                rivals = []
        if rivals:
            return Resolution(
                "ambiguous",
                best,
                candidates,
                query,
                f"{len(rivals) + 1} distinct places{where} match {query!r} about equally well "
                f"(scores {best.score:.2f}–{rivals[-1].score:.2f}){set_aside}; give a location with near=.",
            )
        named = best.name if not best.primary or best.primary == best.name else f"{best.primary} ({best.name})"
        return Resolution(
            "resolved", best, candidates, query, f"{query!r} is {named!r} (score {best.score:.2f}){set_aside}."
        )

    def _within(self, matches: list[Match], point: tuple[float, float, float]) -> list[Match]:
        """The matches within ``radius_km`` of ``(lon, lat)``, each with its distance."""
        if not matches:
            return matches
        lon, lat = self._coords()
        idx = np.array([m.index for m in matches])
        d = _haversine_km(point[0], point[1], lon[idx], lat[idx])
        return [replace(m, distance_km=round(float(dk), 2)) for m, dk in zip(matches, d) if dk <= point[2]]

    def _only_outside(self, query: str, outside: list[Match], max_candidates: int) -> Resolution:
        """The answer when every match lies outside the theatre: unknown, with them as candidates."""
        listed = "; ".join(
            f"{m.primary or m.name} ({self._country_hint(m)}{self._position(m.index)}, {m.theatre_km:,.0f} km outside)"
            for m in outside[:3]
        )
        return Resolution(
            "unknown",
            None,
            outside[:max_candidates],
            query,
            f"No place in the theatre matches {query!r}; only {len(outside)} outside it: {listed}. "
            "Give a location with near= to accept one of them.",
        )

    def _rivals(self, best: Match, good: list[Match], floor: float, same_place_km: float) -> list[Match]:
        """Distinct places scoring at least ``floor`` that make ``best`` ambiguous.

        A place found only through a former name does not rival one found through its own name, and a
        match within ``same_place_km`` of the best is the same place listed twice.
        """
        rivals = [m for m in good[1:] if m.score >= floor and (m.own_name or not best.own_name)]
        if rivals and self._lon is not None and same_place_km > 0:
            lon, lat = self._coords()
            idx = np.array([m.index for m in rivals])
            d = _haversine_km(lon[best.index], lat[best.index], lon[idx], lat[idx])
            rivals = [m for m, dk in zip(rivals, d) if not dk <= same_place_km]
        return rivals

    def _dominance(self, best: Match, rivals: list[Match], ratio: float) -> str:
        """The note setting much smaller namesakes aside when ``best`` dominates them by population, else ""."""
        pop = self._pop
        if pop is None:
            return ""
        p_best = float(pop[best.index])
        p_rival = max(float(pop[m.index]) for m in rivals)
        if not (p_best >= 1000 and p_best >= ratio * max(p_rival, 1.0)):
            return ""
        listed = ", ".join(
            f"{m.primary or m.name} (pop {int(pop[m.index]):,}, {self._position(m.index)})" for m in rivals[:3]
        )
        return (
            f"; {len(rivals)} much smaller place{'s' if len(rivals) > 1 else ''} of that name "
            f"set aside: {listed}{' …' if len(rivals) > 3 else ''} (give near= for one of them)"
        )

    def _coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes of the records (only called when the index has them)."""
        if self._lon is None or self._lat is None:
            raise RuntimeError("this NameIndex has no coordinates")
        return self._lon, self._lat

    def _position(self, i: int) -> str:
        """Record ``i``'s position for messages: ``51.20°N 35.27°E``."""
        lon, lat = self._coords()
        return f"{lat[i]:.2f}°N {lon[i]:.2f}°E"

    def _country_hint(self, m: Match) -> str:
        """ "RU, " when the index knows countries (from_gazetteer), else ""."""
        cc = self._country[m.index] if self._country is not None else ""
        return f"{cc}, " if cc else ""
