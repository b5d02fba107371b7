"""Fuzzy match scoring: edit distance (Myers' bit-parallel Levenshtein) and the similarity bands of names."""

from __future__ import annotations

from .keys import _keys_of_normalised
from .translit import normalise

__all__ = ["levenshtein", "similarity", "KEY_BAND", "FUZZY_CAP"]


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


def _band(score: float) -> int:
    """Match-quality band of a score: 0 same text, 1 same key, 2… look-alikes in steps of 0.05."""
    if score >= 1.0:
        return 0
    if score >= KEY_BAND:
        return 1
    return 2 + int((FUZZY_CAP - score) / 0.05 + 1e-9)
