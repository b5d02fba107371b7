"""Transliteration-tolerant matching of settlement names.

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
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "normalise",
    "romanise_uk",
    "match_kind",
    "THEATRE_BBOX",
    "match_key",
    "similarity",
    "levenshtein",
    "Match",
    "Resolution",
    "NameIndex",
]

# --------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------

# Apostrophes and look-alikes analysts and gazetteers use for the Ukrainian
# apostrophe and the soft sign ("Vovchans'k", "Kup’iansk"); they carry no
# sound we can match on, so they are dropped.
_APOSTROPHES = "'’‘ʼʹʻ`´′″‛\"ʺ"

# Letters the Unicode decomposition leaves alone but that have an obvious
# Latin base; ž/č/š keep their h so that "Sudža" meets "Sudzha".
_LATIN_SPECIAL = {
    "ž": "zh", "č": "ch", "š": "sh", "ł": "l", "đ": "d", "ø": "o", "æ": "ae",
    "œ": "oe", "ß": "ss", "ı": "i", "ð": "d", "þ": "th", "ŀ": "l", "ħ": "h",
}

# Cyrillic letters that are written the same in Ukrainian and Russian
# transliteration.
_CYR_COMMON = {
    "а": "a", "б": "b", "в": "v", "д": "d", "ж": "zh", "з": "z", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ъ": "", "ґ": "g", "ў": "u",
    # Belarusian and South Slavic letters seen in alternate names
    "ђ": "dj", "ј": "j", "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dzh", "ѓ": "g", "ќ": "k",
    "ѕ": "dz",
}
# Ukrainian official (2010): г=h, и=y, і=i; є ї й ю я are ye yi y yu ya at the
# start of a word and ie i i iu ia inside it.
_CYR_UK = {**_CYR_COMMON, "г": "h", "и": "y", "і": "i", "е": "e", "ы": "y", "э": "e", "ё": "io"}
_UK_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_UK_INNER = {"є": "ie", "ї": "i", "й": "i", "ю": "iu", "я": "ia"}
# Russian, BGN/PCGN-like without diacritics: е/ё are ye after a vowel, a sign
# or at the start of a word, e otherwise.
_CYR_RU = {**_CYR_COMMON, "г": "g", "и": "i", "і": "i", "ы": "y", "э": "e", "й": "y",
           "ю": "yu", "я": "ya", "є": "ye", "ї": "yi"}
_CYR_VOWELS = set("аеёиоуыэюяіїєaeiouy")

_UK_ONLY = set("іїєґ")
_RU_ONLY = set("ыэёъ")

_RE_CYR = re.compile(r"[\u0400-\u04ff]")
# The Ukrainian apostrophe before я/ю/є/ї (Куп'янськ); Russian writes ъ there.
_RE_UK_APOSTROPHE = re.compile("[\u0400-\u04ff][" + re.escape(_APOSTROPHES) + "][яюєї]")
_RE_NONWORD = re.compile(r"[^\w]+|_+")
_RE_SPACES = re.compile(r"\s+")
_APOS_TABLE = str.maketrans({c: None for c in _APOSTROPHES})


def _translit_cyrillic(text: str) -> str:
    """Transliterate Cyrillic in lower-case ``text`` to Latin.

    The language is guessed per name from letters only one of the two uses
    (і ї є ґ and the apostrophe before я/ю/є/ї are Ukrainian, ы э ё ъ
    Russian); without either, Russian rules are used. For matching it hardly matters: the key treats г as h or g and
    и as y or i alike.
    """
    ukrainian = (bool(_UK_ONLY.intersection(text)) or bool(_RE_UK_APOSTROPHE.search(text))) and not (
        _RU_ONLY.intersection(text)
    )
    out: list[str] = []
    prev = ""  # previous character of the original text, to detect word starts
    for ch in text:
        if ukrainian:
            if ch in _UK_INITIAL:
                word_start = not (prev.isalpha() or (prev != "" and prev in _APOSTROPHES))
                out.append(_UK_INITIAL[ch] if word_start else _UK_INNER[ch])
            elif ch == "г" and prev == "з":
                # KMU 55: зг is zgh, so that Згурівка (Zghurivka) is not read as Журівка (Zhurivka)
                out.append("gh")
            else:
                out.append(_CYR_UK.get(ch, ch))
        else:
            if ch in ("е", "ё"):
                # BGN/PCGN without diacritics: ye/yo at a word start, after a vowel or a sign; e after a
                # consonant (ё as e, as GeoNames' Latin forms write it: Артёмовск → Artemovsk)
                ye = (not prev.isalpha()) or prev in _CYR_VOWELS or prev in "ьъ"
                out.append(("ye" if ch == "е" else "yo") if ye else "e")
            else:
                out.append(_CYR_RU.get(ch, ch))
        prev = ch
    return "".join(out)


# KMU No. 55 (2010) for capitalised output; the same letters as _CYR_UK.
_KMU = {**{k: v for k, v in _CYR_COMMON.items() if k in "абвджзклмнопрстуфхцчшщьґ"},
        "г": "h", "е": "e", "и": "y", "і": "i",
        # Russian letters met in mixed names, so they do not pass through as Cyrillic
        "ё": "io", "ы": "y", "э": "e", "ъ": ""}


def romanise_uk(text: str) -> str:
    """Ukrainian Cyrillic in the official national romanisation (KMU No. 55, 2010), case kept.

    The rules that differ from a letter-by-letter table are applied: зг is
    ``zgh``; є ї й ю я are ``ye yi y yu ya`` at the start of a word and
    ``ie i i iu ia`` inside it; the soft sign and the apostrophe are dropped.
    Other characters pass through.

    Parameters
    ----------
    text
        A Ukrainian name (Згурівка, Знам'янка).

    Returns
    -------
    str
        ``Zghurivka``, ``Znamianka``.

    Examples
    --------
    >>> romanise_uk("Яготин"), romanise_uk("Згурівка"), romanise_uk("Знам'янка")
    ('Yahotyn', 'Zghurivka', 'Znamianka')
    """
    out: list[str] = []
    prev = ""
    for ch in unicodedata.normalize("NFC", text):
        low = ch.lower()
        if low in _UK_INITIAL:
            word_start = not (prev.isalpha() or (prev != "" and prev in _APOSTROPHES))
            lat = _UK_INITIAL[low] if word_start else _UK_INNER[low]
        elif low == "г" and prev.lower() == "з":
            lat = "gh"
        elif low in _KMU:
            lat = _KMU[low]
        elif ch in _APOSTROPHES:
            lat = ""
        else:
            lat = ch
        if ch != low and lat:
            # an upper-case letter: the whole digraph upper-case inside an all-caps word, else title-case
            lat = lat.upper() if (prev.isupper() and prev.isalpha()) else lat[0].upper() + lat[1:]
        out.append(lat)
        prev = ch
    return "".join(out)


def normalise(name: str) -> str:
    """Latin, lower-case, diacritic-free form of a place name.

    Parameters
    ----------
    name
        Any spelling: Latin with or without diacritics, Ukrainian or Russian
        Cyrillic. Other scripts pass through lower-cased.

    Returns
    -------
    str
        Words separated by single spaces; hyphens, dots and other punctuation
        become spaces, apostrophes and soft signs disappear.

    Examples
    --------
    >>> normalise("Костянтинівка")
    'kostiantynivka'
    >>> normalise("Vovchans'k")
    'vovchansk'
    >>> normalise("Николаево-Дарьино")
    'nikolayevo darino'
    """
    if not isinstance(name, str):
        raise TypeError(f"A place name must be text, not {type(name).__name__}: {name!r}")
    text = unicodedata.normalize("NFC", name).lower()
    if _RE_CYR.search(text):
        text = _translit_cyrillic(text)
    text = text.translate(_APOS_TABLE)
    if not text.isascii():
        for src, dst in _LATIN_SPECIAL.items():
            if src in text:
                text = text.replace(src, dst)
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = _RE_NONWORD.sub(" ", text)
    return _RE_SPACES.sub(" ", text).strip()


_RE_NONWORD_LINES = re.compile(r"[^\w\n]+|_+")
_RE_SPACE_RUNS = re.compile(r" {2,}")
_RE_LINE_EDGES = re.compile(r"^ | $", re.MULTILINE)


def _normalise_many(names: Sequence[str]) -> list[str]:
    """``[normalise(n) for n in names]``, with the plain-ASCII majority done
    as one batch of C-level string operations (an index of a million names
    would otherwise spend seconds in per-name Python calls)."""
    out: list[str] = [""] * len(names)
    batch: list[int] = []
    for i, name in enumerate(names):
        if name.isascii() and "\n" not in name:
            batch.append(i)
        else:
            out[i] = normalise(name)
    if batch:
        text = "\n".join([names[i] for i in batch]).lower().translate(_APOS_TABLE)
        text = _RE_NONWORD_LINES.sub(" ", text)
        text = _RE_SPACE_RUNS.sub(" ", text)
        text = _RE_LINE_EDGES.sub("", text)
        for i, v in zip(batch, text.split("\n")):
            out[i] = v
    return out


# --------------------------------------------------------------------------
# Match key
# --------------------------------------------------------------------------
# The key is built by regular expressions run over a whole batch of normalised
# names joined by newlines, so building an index of 150,000 names costs a few
# dozen C-level passes rather than millions of Python calls. No pattern may
# match across a newline. Upper-case letters are temporary markers for sounds
# written with two letters (J = zh/dzh, H = kh/h/g, Q = ch, W = sh/shch,
# C = ts); the key is lower-cased at the end, which is safe because the Latin
# letters j h q w c themselves were remapped before.

_bdfklmnprstvzCHJQW = "bdfklmnprstvzCHJQW"  # consonant letters and markers once the digraphs are folded


def _re(pattern: str, repl: str):
    rx = re.compile(pattern)
    return lambda text: rx.sub(repl, text)


def _tr(mapping: dict[str, str]):
    table = str.maketrans(mapping)
    return lambda text: text.translate(table)


# Patterns start with a literal or a character class where they can, so the
# regex engine skips quickly to candidate positions; single-letter maps are
# str.translate calls. Together they cost about a second per million names.
_KEY_STEPS = [
    # frequent roots whose Ukrainian and Russian forms differ by more than a
    # vowel: Микола/Никола (Mykolaivka ↔ Nikolaevka), Олекса/Алекса
    # (Oleksandrivka ↔ Aleksandrovka, also after Novo-), вовк/волк, жовт/желт
    _re(r"m[iy]k(?=[oa]l)", "nik"),
    _re(r"[ao](?:(?<![a-z][ao])|(?<=nov[oe][ao]))le(?:ks|x)", "aleks"),
    _re(r"vovch", "volch"),
    _re(r"zh(?:ov|ol|el|yel|yol)t", "zholt"),
    # Ukrainian prothetic в before у: Vuhledar ↔ Ugledar, Vuzlove ↔ Uzlovoye
    _re(r"v(?<![a-z]v)u(?=[a-z])", "u"),
    # spellings from other languages that turn up in alternate names
    _re(r"ph", "f"),
    _re(r"ck", "k"),
    _tr({"w": "v", "q": "k"}),
    _re(r"x", "ks"),  # (a one-to-two mapping would push str.translate off its fast path)
    # sounds written with several letters, longest first
    _re(r"tsch", "Q"),
    _re(r"shch|sch|shh", "W"),
    _re(r"dzh|dj", "J"),
    _re(r"zh", "J"),
    _re(r"ch", "Q"),
    _re(r"sh", "W"),
    _re(r"kh|gh", "H"),
    _re(r"ts|tz", "C"),
    # h/g are one sound class (Ukrainian г = h, Russian г = g); any j left is
    # the glide of Kupjansk, Jaroslavl
    _tr({"h": "H", "g": "H", "c": "C", "j": "y"}),
    # Ukrainian -я after two consonants at the end of a word (usually a
    # doubled one) is Russian -ье: Запоріжжя ↔ Запорожье, Поділля ↔ Подолье,
    # Щастя ↔ Счастье
    _re(r"[iy](?<=[bdfklmnprstvzCHJQW]{2}[iy])a(?![a-z])", "e"),
    # Костянтин ↔ Константин: Ukrainian lost the n
    _re(r"nst", "st"),
    # doubled consonants: Cherkasskoye ↔ Cherkaske
    _re(r"([bdfklmnprstvzCHJQW])\1+", r"\1"),
    # vowels: і/и/е/о/ы/й alternate between the languages, so they are one
    # class e; then a run containing a is a (ia/ya/aya), else one containing
    # u is u (iu/yu), else e
    _tr({"i": "e", "o": "e", "y": "e"}),
    _re(r"[eu]+a[aeu]*|a[aeu]+", "a"),
    _re(r"e+u[eu]*|u[eu]+", "u"),
    _re(r"ee+", "e"),
    _re(r"[^a-zA-Z0-9\n]+", ""),  # spaces, hyphens, leftovers of other scripts
]


def _keys_of_normalised(normalised: Sequence[str]) -> list[str]:
    """Match keys of already normalised names, computed as one batch."""
    if not normalised:
        return []
    text = "\n".join(s.replace("\n", " ") for s in normalised)
    for step in _KEY_STEPS:
        text = step(text)
    keys = text.lower().split("\n")
    if len(keys) != len(normalised):  # a pattern crossed a line: a bug, not bad input
        raise RuntimeError("match key batch lost its alignment")
    return keys


def match_key(name: str) -> str:
    """Phonetic skeleton of a name, equal for the usual variant spellings.

    Parameters
    ----------
    name
        Any spelling (see :func:`normalise`).

    Returns
    -------
    str
        Lower-case ASCII key without spaces. Empty when the name has no Latin
        or Cyrillic letters or digits.

    Examples
    --------
    >>> match_key("Kostiantynivka") == match_key("Константиновка")
    True
    >>> match_key("Zaporizhzhia") == match_key("Запорожье")
    True
    """
    return _keys_of_normalised([normalise(name)])[0]


# --------------------------------------------------------------------------
# Edit distance and similarity
# --------------------------------------------------------------------------

def _pattern_masks(pattern: str) -> dict[str, int]:
    peq: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    return peq


def _myers(peq: dict[str, int], m: int, text: str) -> int:
    """Levenshtein distance between a pattern (given by its masks) and text.

    Myers' bit-parallel algorithm (Hyyrö's formulation): one pass over
    ``text`` with Python integers as bit vectors, so it costs a handful of
    integer operations per character instead of a full DP table.
    """
    if m == 0:
        return len(text)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv = mask
    mv = 0
    score = m
    for ch in text:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = (ph << 1) | 1
        mh <<= 1
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def levenshtein(a: str, b: str) -> int:
    """Number of single-character insertions, deletions and substitutions
    that turn ``a`` into ``b``."""
    if a == b:
        return 0
    return _myers(_pattern_masks(a), len(a), b)


def _lev_sim(a: str, b: str) -> float:
    n = max(len(a), len(b))
    return 1.0 if n == 0 else 1.0 - levenshtein(a, b) / n


# Score bands. Same normalised text: 1.0. Same key: KEY_BAND .. 1.0. Otherwise
# at most FUZZY_CAP, so a fuzzy match can never outrank a key match.
KEY_BAND = 0.9
FUZZY_CAP = 0.85


def _score(q_compact: str, q_key: str, n_compact: str, n_key: str, key_sim: float | None = None) -> float:
    if q_compact == n_compact:
        return 1.0
    text_sim = _lev_sim(q_compact, n_compact)
    if q_key and q_key == n_key:
        return min(KEY_BAND + (1.0 - KEY_BAND) * text_sim, 0.999)
    if key_sim is None:
        key_sim = _lev_sim(q_key, n_key) if (q_key and n_key) else 0.0
    return FUZZY_CAP * (0.8 * key_sim + 0.2 * text_sim)


def similarity(a: str, b: str) -> float:
    """How alike two place names are, in [0, 1].

    Parameters
    ----------
    a, b
        Names in any spelling.

    Returns
    -------
    float
        1.0 when both normalise to the same text; between 0.9 and 1.0 when
        they share a :func:`match_key` (transliteration variants); at most
        0.85 otherwise, from the edit distance between the keys (80 %) and
        between the normalised texts (20 %).

    Examples
    --------
    >>> similarity("Lebedivka", "Лебедевка") >= 0.9
    True
    >>> similarity("Lebedivka", "Lebedyn") < 0.85
    True
    """
    na, nb = normalise(a), normalise(b)
    ca, cb = na.replace(" ", ""), nb.replace(" ", "")
    ka, kb = _keys_of_normalised([na, nb])
    if not ca and not cb:
        return 0.0
    return _score(ca, ka, cb, kb)


# --------------------------------------------------------------------------
# Index
# --------------------------------------------------------------------------

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


_EARTH_RADIUS_KM = 6371.0088


def _haversine_km(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _trigram_codes(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, code) of every distinct trigram of every key, vectorised.

    Keys are ASCII; each is padded as ``^key$`` and each trigram packed into
    one integer ``b0 << 16 | b1 << 8 | b2``.
    """
    padded = ["^" + k + "$" for k in keys]
    lens = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    ntri = lens - 2
    if len(padded) == 0 or ntri.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    buf = np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8).astype(np.int64)
    starts = np.cumsum(lens) - lens
    owner = np.repeat(np.arange(len(padded), dtype=np.int64), ntri)
    first = np.cumsum(ntri) - ntri
    pos = np.repeat(starts, ntri) + (np.arange(int(ntri.sum())) - np.repeat(first, ntri))
    codes = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
    # A key repeating a trigram ("^aaa") counts it once, as the query does.
    combo = np.sort((owner << 24) | codes)
    # (np.unique would do, but numpy 2's hash-based unique is ~10× slower
    # than this sort on millions of integers)
    if len(combo) > 1:
        combo = combo[np.concatenate([[True], combo[1:] != combo[:-1]])]
    return combo >> 24, combo & 0xFFFFFF


def _csr(groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Members of each group: ``order[start[g]:start[g + 1]]`` are the positions
    whose ``groups`` value is g (negative values belong to no group)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    first = np.searchsorted(sorted_groups, 0)
    order = order[first:]
    start = np.searchsorted(sorted_groups[first:], np.arange(n_groups + 1))
    return order, start


# The theatre as a box: Ukraine (22.1–40.2°E, 44.4–52.4°N) and the Russian
# side's home (30–42.5°E, 44–54.5°N, the partition rule's box). A place
# within THEATRE_SLACK_KM of it counts as in the theatre.
THEATRE_BBOX: tuple[float, float, float, float] = (22.0, 44.0, 42.5, 54.5)
THEATRE_SLACK_KM = 50.0


def _box_km(box, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle km from each point to the nearest point of a lon/lat box (0 inside)."""
    x0, y0, x1, y1 = box
    cx, cy = np.clip(lon, x0, x1), np.clip(lat, y0, y1)
    return _haversine_km(lon, lat, cx, cy)


def match_kind(primary: str, matched: str) -> str:
    """How a matched name relates to a place's official name, for display.

    Parameters
    ----------
    primary
        The place's primary name (GeoNames: the current official one).
    matched
        The name the query matched.

    Returns
    -------
    str
        ``"official name"`` (the primary name itself); ``"Ukrainian
        spelling"``, ``"Russian spelling"``, ``"Cyrillic spelling"`` or
        ``"spelling"`` (another transliteration of the same name: same
        :func:`match_key`); ``"former or other name"`` when the names differ
        beyond transliteration (Krasnoarmiysk for Pokrovsk, Artemovsk for
        Bakhmut).
    """
    if matched == primary or normalise(matched) == normalise(primary):
        return "official name"
    cyr = bool(_RE_CYR.search(matched))
    if match_key(matched) != match_key(primary):
        return "former or other name"
    if not cyr:
        return "spelling"
    low = matched.lower()
    if _UK_ONLY.intersection(low) or _RE_UK_APOSTROPHE.search(low):
        return "Ukrainian spelling"
    if _RU_ONLY.intersection(low):
        return "Russian spelling"
    return "Cyrillic spelling"


def _band(score: float) -> int:
    """Match-quality band of a score: 0 same text, 1 same key, 2… look-alikes in steps of 0.05."""
    if score >= 1.0:
        return 0
    if score >= KEY_BAND:
        return 1
    return 2 + int((FUZZY_CAP - score) / 0.05 + 1e-9)


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
        ids: list[Any] = []
        primary: list[int] = []  # first entry of each record: its primary name
        entry_rec: list[int] = []
        entry_name: list[str] = []
        for pos, rec in enumerate(records):
            try:
                rid, names = rec
            except (TypeError, ValueError):
                raise ValueError(
                    f"Record {pos} must be an (id, names) pair, got {rec!r}."
                ) from None
            if isinstance(names, str):
                names = [names]
            ids.append(rid)
            primary.append(len(entry_name))
            for nm in dict.fromkeys(names):  # drop repeats, keep order
                if isinstance(nm, str) and nm.strip():
                    entry_rec.append(pos)
                    entry_name.append(nm)
        self._ids = ids
        self._primary_entry = primary
        n = len(ids)

        self._lon = self._lat = None
        if lonlat is not None:
            arr = np.asarray(lonlat, dtype=float)
            if arr.ndim != 2 or arr.shape != (n, 2):
                raise ValueError(
                    f"lonlat must give one (lon, lat) pair per record: {n} records, "
                    f"got an array of shape {arr.shape}."
                )
            self._lon, self._lat = arr[:, 0].copy(), arr[:, 1].copy()
        self._pop = None
        if population is not None:
            pop = np.asarray(population, dtype=float)
            if pop.shape != (n,):
                raise ValueError(f"population must have one value per record: {n} records, got {pop.shape}.")
            self._pop = np.nan_to_num(pop)
        self._country = None  # set by from_gazetteer, for messages only
        self._theatre = None
        self._theatre_km = None
        if theatre is not None:
            if self._lon is None:
                raise ValueError("theatre= needs coordinates: build the NameIndex with lonlat=.")
            try:
                x0, y0, x1, y1 = (float(v) for v in theatre)
            except (TypeError, ValueError):
                raise ValueError(f"theatre must be (min_lon, min_lat, max_lon, max_lat), got {theatre!r}.") from None
            if not (x0 <= x1 and y0 <= y1):
                raise ValueError(f"theatre must be (min_lon, min_lat, max_lon, max_lat) with min ≤ max, got {theatre!r}.")
            self._theatre = (x0, y0, x1, y1)
            self._theatre_km = _box_km(self._theatre, self._lon, self._lat)

        # Everything below works on distinct strings (gazetteers repeat names
        # a lot) and stores groups as numpy CSR arrays rather than dicts of
        # lists, so building stays at a few C-level passes per stage.
        self._entry_rec = np.asarray(entry_rec, dtype=np.int64)
        self._entry_name = entry_name
        distinct_names = list(dict.fromkeys(entry_name))
        norm_of_name = dict(zip(distinct_names, _normalise_many(distinct_names)))
        entry_norm = [norm_of_name[nm] for nm in entry_name]

        # compact text (normalised, no spaces) → entries, for exact hits and
        # the text part of the score
        cid_of: dict[str, int] = {}
        entry_cid = np.fromiter(
            (cid_of.setdefault(nm.replace(" ", ""), len(cid_of)) for nm in entry_norm),
            dtype=np.int64, count=len(entry_norm),
        )
        self._compacts = list(cid_of)
        self._cid_of = cid_of
        self._entry_cid = entry_cid
        self._cid_order, self._cid_start = _csr(entry_cid, len(cid_of))

        # match key → entries
        distinct_norms = list(dict.fromkeys(entry_norm))
        key_of_norm = dict(zip(distinct_norms, _keys_of_normalised(distinct_norms)))
        kid_of: dict[str, int] = {}
        entry_kid = np.fromiter(
            (kid_of.setdefault(k, len(kid_of)) if k else -1 for k in (key_of_norm[nm] for nm in entry_norm)),
            dtype=np.int64, count=len(entry_norm),
        )
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
    def from_gazetteer(cls, gazetteer, *, alternates: bool = True,
                       theatre: tuple[float, float, float, float] | None = THEATRE_BBOX) -> "NameIndex":
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
        records = (
            (ids[i], [names[i], *(alts[i] if alts is not None else ())])
            for i in range(len(names))
        )
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
        return self._kid_order[self._kid_start[kid]:self._kid_start[kid + 1]]

    def _candidate_keys(self, q_key: str, max_keys: int) -> np.ndarray:
        if not self._keys:
            return np.zeros(0, dtype=np.int64)
        _, q_codes = _trigram_codes([q_key])
        at = np.searchsorted(self._tri_codes, q_codes)
        at = at[at < len(self._tri_codes)]
        at = at[np.isin(self._tri_codes[at], q_codes)]
        if len(at) == 0:
            return np.zeros(0, dtype=np.int64)
        parts = [self._tri_post[self._tri_start[t]:self._tri_start[t + 1]] for t in at]
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
            if old is None or score > old[0] or (
                    score == old[0] and self._entry_name[entry].casefold() == q_fold != self._entry_name[old[1]].casefold()):
                best[rec] = (score, entry)

        if not q_compact:
            return best
        cid = self._cid_of.get(q_compact)
        if cid is not None:
            for e in self._cid_order[self._cid_start[cid]:self._cid_start[cid + 1]]:
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
            Match(id=self._ids[r], name=self._entry_name[e], score=round(s, 4), index=r,
                  primary=self._entry_name[first[r]],
                  theatre_km=None if tkm is None else round(float(tkm[r]), 1),
                  own_name=bool(cid[e] == cid[first[r]] or (kid[e] >= 0 and kid[e] == kid[first[r]])))
            for r, (s, e) in best.items()
        ]
        pop = self._pop
        # Quality first, by band (the same spelling; a transliteration variant; look-alikes in steps of
        # 0.05); then in-theatre before outside; then a place's own name before another place's former
        # name (Sloviansk is Slovyansk, not Nikopol, once called Slaviansk); then the larger place.
        out.sort(key=lambda m: (_band(m.score),
                                0 if m.theatre_km is None or m.theatre_km <= THEATRE_SLACK_KM else 1,
                                0 if m.own_name else 1,
                                -(pop[m.index] if pop is not None else 0.0), -m.score,
                                m.theatre_km or 0.0, m.index))
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
        has_coords = self._lon is not None
        if near is not None:
            if not has_coords:
                raise ValueError(
                    "near= needs coordinates: build the NameIndex with lonlat= "
                    "(NameIndex.from_gazetteer does so)."
                )
            try:
                nlon, nlat, radius = (float(v) for v in near)
            except (TypeError, ValueError):
                raise ValueError(f"near must be (lon, lat, radius_km), got {near!r}.") from None
            if not (-180 <= nlon <= 180 and -90 <= nlat <= 90) or not radius > 0:
                raise ValueError(
                    f"near must be (lon, lat, radius_km) with lon/lat in degrees and a positive "
                    f"radius, got {near!r}."
                )

        # Suggestions for an unknown name come from a looser search.
        suggest_floor = min(min_score, 0.6)
        scored = self._score_all(query, suggest_floor, 400)
        matches = self._to_matches(scored)

        if near is not None and matches:
            idx = np.array([m.index for m in matches])
            d = _haversine_km(nlon, nlat, self._lon[idx], self._lat[idx])
            matches = [replace(m, distance_km=round(float(dk), 2)) for m, dk in zip(matches, d) if dk <= radius]
        good = [m for m in matches if m.score >= min_score]
        where = f" within {radius:g} km of ({nlon:g}, {nlat:g})" if near is not None else ""

        set_aside = ""
        if near is None and self._theatre is not None and good:
            # Never pick a place far outside the theatre silently: the Pokrovsk of a claim is the one in
            # Donetsk oblast, and a name found only in Yakutia is not an answer but a question.
            inside = [m for m in good if m.theatre_km <= THEATRE_SLACK_KM]
            outside = [m for m in good if m.theatre_km > THEATRE_SLACK_KM]
            if not inside:
                listed = "; ".join(
                    f"{m.primary or m.name} ({self._country_hint(m)}{self._lat[m.index]:.2f}°N "
                    f"{self._lon[m.index]:.2f}°E, {m.theatre_km:,.0f} km outside)" for m in outside[:3])
                return Resolution(
                    "unknown", None, outside[:max_candidates], query,
                    f"No place in the theatre matches {query!r}; only {len(outside)} outside it: {listed}. "
                    "Give a location with near= to accept one of them.",
                )
            if outside:
                set_aside = (f" ({len(outside)} place{'s' if len(outside) > 1 else ''} of that name outside "
                             "the theatre set aside)")
            good = inside

        if not good:
            sugg = matches[:max_candidates]
            hint = f"; closest: {', '.join(repr(m.name) for m in sugg[:3])}" if sugg else ""
            return Resolution("unknown", None, sugg, query,
                              f"No place{where} matches {query!r} with score ≥ {min_score:g}{hint}.")

        best = good[0]
        floor = max(min_score, best.score - margin)
        rivals = [m for m in good[1:] if m.score >= floor and (m.own_name or not best.own_name)]
        if rivals and has_coords and same_place_km > 0:
            idx = np.array([m.index for m in rivals])
            d = _haversine_km(self._lon[best.index], self._lat[best.index], self._lon[idx], self._lat[idx])
            rivals = [m for m, dk in zip(rivals, d) if not dk <= same_place_km]
        candidates = good[:max_candidates]
        if rivals and dominant_ratio is not None and self._pop is not None:
            p_best = float(self._pop[best.index])
            p_rival = max(float(self._pop[m.index]) for m in rivals)
            if p_best >= 1000 and p_best >= dominant_ratio * max(p_rival, 1.0):
                listed = ", ".join(
                    f"{m.primary or m.name} (pop {int(self._pop[m.index]):,}, {self._lat[m.index]:.2f}°N "
                    f"{self._lon[m.index]:.2f}°E)" for m in rivals[:3])
                set_aside += (f"; {len(rivals)} much smaller place{'s' if len(rivals) > 1 else ''} of that name "
                              f"set aside: {listed}{' …' if len(rivals) > 3 else ''} (give near= for one of them)")
                rivals = []
        if rivals:
            return Resolution(
                "ambiguous", best, candidates, query,
                f"{len(rivals) + 1} distinct places{where} match {query!r} about equally well "
                f"(scores {best.score:.2f}–{rivals[-1].score:.2f}){set_aside}; give a location with near=.",
            )
        named = best.name if not best.primary or best.primary == best.name else f"{best.primary} ({best.name})"
        return Resolution("resolved", best, candidates, query,
                          f"{query!r} is {named!r} (score {best.score:.2f}){set_aside}.")

    def _country_hint(self, m: Match) -> str:
        """"RU, " when the index knows countries (from_gazetteer), else ""."""
        cc = self._country[m.index] if self._country is not None else ""
        return f"{cc}, " if cc else ""
