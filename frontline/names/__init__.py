"""Transliteration-tolerant matching of settlement names (the package's public face).

Analysts write one village in several ways: Лебедівка (Ukrainian),
Лебедевка (Russian), Lebedivka, Lebedevka. This module turns every such
spelling into a comparable form and finds the place a name refers to in a
gazetteer, saying so when it cannot tell.

Three levels of comparison are used, each coarser than the last:

:func:`normalise`
    Latin lower case without diacritics, apostrophes or soft signs; Ukrainian
    Cyrillic is transliterated by the official 2010 national system
    (Костянтинівка → ``kostiantynivka``), Russian by a BGN/PCGN-like system
    (Суджа → ``sudzha``). Hyphens become spaces. Two names that normalise to
    the same text are spelt the same.
:func:`match_key`
    A phonetic skeleton that collapses the usual variant spellings: kh/h/g,
    zh/j/dzh, ia/ya/ja, the Ukrainian ↔ Russian vowel alternation
    (і ↔ е/о/и: Lebedivka ↔ Lebedevka, Orikhiv ↔ Orekhov), adjective endings
    (-ske/-skoye, -a/-aya, -yi/-iy), doubled consonants, Костянтин ↔
    Константин and a few very frequent roots (Микола ↔ Никола, Олекса ↔
    Алекса). Two names with the same key are transliteration variants of the
    same name, or different names that only an exact spelling can tell apart.
:func:`similarity`
    A score in [0, 1] that is 1.0 for the same normalised text, 0.9–1.0 for
    the same key, and at most 0.85 otherwise (edit distance on the keys, with
    a little weight on the normalised text).

Names whose spelling differs beyond these rules (Bakhmut/Artemovsk,
Toretsk/Dzerzhinsk) are matched through the gazetteer's alternate names, not
through rules.

Known limits of the rules: Ukrainian я for Russian е (Кам'янка/Каменка),
a dropped final vowel (Dnipro/Dnepr) and Polish or German spellings
(Charków) differ in the key and are left to the edit-distance score, which
by default only suggests them; alternate names cover the common cases.

:class:`NameIndex` searches many names quickly: an exact dictionary hit on
the key first, then a trigram filter over the distinct keys before scoring.
:meth:`NameIndex.resolve` never guesses silently: it answers ``"ambiguous"``
when several distinct places score close to the top, and ``"unknown"`` when
nothing scores high enough.

The work is split by job: :mod:`.translit` (romanisation, :func:`normalise`), :mod:`.keys` (:func:`match_key`,
:func:`match_kind`), :mod:`.distance` (edit distance, :func:`similarity`), :mod:`.theatre` (the theatre box,
distances), :mod:`.results` (:class:`Match`, :class:`Resolution`), :mod:`.tables` and :mod:`.index`
(:class:`NameIndex`).
"""

from __future__ import annotations

from .distance import FUZZY_CAP, KEY_BAND, levenshtein, similarity
from .index import NameIndex
from .keys import match_key, match_kind
from .results import Match, Resolution
from .theatre import THEATRE_BBOX, THEATRE_SLACK_KM, _haversine_km
from .translit import _normalise_many, normalise, romanise_uk

__all__ = [
    "normalise",
    "romanise_uk",
    "match_kind",
    "THEATRE_BBOX",
    "THEATRE_SLACK_KM",
    "match_key",
    "similarity",
    "levenshtein",
    "KEY_BAND",
    "FUZZY_CAP",
    "Match",
    "Resolution",
    "NameIndex",
    "_haversine_km",
    "_normalise_many",
]
