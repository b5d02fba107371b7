"""Tolerant name keys: the phonetic skeleton equal for the usual Ukrainian/Russian/Latin variant spellings.

Upper-case letters are temporary markers inside a key batch (see :data:`_KEY_STEPS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .translit import _RE_CYR, _RE_UK_APOSTROPHE, _RU_ONLY, _UK_ONLY, normalise

__all__ = ["match_key", "match_kind"]

# The key is built by regular expressions run over a whole batch of normalised
# names joined by newlines, so building an index of 150,000 names costs a few
# dozen C-level passes rather than millions of Python calls. No pattern may
# match across a newline. Upper-case letters are temporary markers for sounds
# written with two letters (J = zh/dzh, H = kh/h/g, Q = ch, W = sh/shch,
# C = ts); the key is lower-cased at the end, which is safe because the Latin
# letters j h q w c themselves were remapped before.

_bdfklmnprstvzCHJQW = "bdfklmnprstvzCHJQW"  # consonant letters and markers once the digraphs are folded


def _re(pattern: str, repl: str) -> Callable[[str], str]:
    """A key step replacing every match of ``pattern``."""
    rx = re.compile(pattern)
    return lambda text: rx.sub(repl, text)


def _subs(pairs: str) -> list[Callable[[str], str]]:
    """Key steps from ``"pattern replacement pattern replacement …"`` (neither holds a space), run in order."""
    words = pairs.split()
    return [_re(p, r) for p, r in zip(words[::2], words[1::2], strict=True)]


def _tr(mapping: dict[str, str]) -> Callable[[str], str]:
    """A key step mapping single letters (``str.translate``)."""
    table = str.maketrans(mapping)
    return lambda text: text.translate(table)


# Patterns start with a literal or a character class where they can, so the
# regex engine skips quickly to candidate positions; single-letter maps are
# str.translate calls. Together they cost about a second per million names.
_KEY_STEPS = [
    # frequent roots whose Ukrainian and Russian forms differ by more than a
    # vowel: Микола/Никола (Mykolaivka ↔ Nikolaevka), Олекса/Алекса
    # (Oleksandrivka ↔ Aleksandrovka, also after Novo-), вовк/волк, жовт/желт
    *_subs(r"m[iy]k(?=[oa]l) nik  [ao](?:(?<![a-z][ao])|(?<=nov[oe][ao]))le(?:ks|x) aleks"),
    *_subs(r"vovch volch  zh(?:ov|ol|el|yel|yol)t zholt"),
    # Ukrainian prothetic в before у: Vuhledar ↔ Ugledar, Vuzlove ↔ Uzlovoye
    _re(r"v(?<![a-z]v)u(?=[a-z])", "u"),
    # spellings from other languages that turn up in alternate names
    *_subs("ph f  ck k"),
    _tr({"w": "v", "q": "k"}),
    _re(r"x", "ks"),  # (a one-to-two mapping would push str.translate off its fast path)
    # sounds written with several letters, longest first
    *_subs("tsch Q  shch|sch|shh W  dzh|dj J  zh J  ch Q  sh W  kh|gh H  ts|tz C"),
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
    *_subs(r"[eu]+a[aeu]*|a[aeu]+ a  e+u[eu]*|u[eu]+ u  ee+ e"),
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
