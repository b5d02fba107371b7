"""Cyrillic to Latin for matching: Ukrainian 2010 official romanisation (зг → zgh) and Russian, normalised text.

:func:`normalise` gives the Latin lower case without diacritics, apostrophes or soft signs that every
comparison starts from; :func:`romanise_uk` gives the official Ukrainian romanisation with case kept, for display.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["normalise", "romanise_uk"]

# Apostrophes and look-alikes analysts and gazetteers use for the Ukrainian
# apostrophe and the soft sign ("Vovchans'k", "Kup’iansk"); they carry no
# sound we can match on, so they are dropped.
_APOSTROPHES = "'’‘ʼʹʻ`´′″‛\"ʺ"

# Letters the Unicode decomposition leaves alone but that have an obvious
# Latin base; ž/č/š keep their h so that "Sudža" meets "Sudzha".
_LATIN_SPECIAL = {
    "ž": "zh",
    "č": "ch",
    "š": "sh",
    "ł": "l",
    "đ": "d",
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ß": "ss",
    "ı": "i",
    "ð": "d",
    "þ": "th",
    "ŀ": "l",
    "ħ": "h",
}

# Cyrillic letters that are written the same in Ukrainian and Russian
# transliteration.
_CYR_COMMON = {
    "а": "a",
    "б": "b",
    "в": "v",
    "д": "d",
    "ж": "zh",
    "з": "z",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ь": "",
    "ъ": "",
    "ґ": "g",
    "ў": "u",
    # Belarusian and South Slavic letters seen in alternate names
    "ђ": "dj",
    "ј": "j",
    "љ": "lj",
    "њ": "nj",
    "ћ": "c",
    "џ": "dzh",
    "ѓ": "g",
    "ќ": "k",
    "ѕ": "dz",
}
# Ukrainian official (2010): г=h, и=y, і=i; є ї й ю я are ye yi y yu ya at the
# start of a word and ie i i iu ia inside it.
_CYR_UK = {**_CYR_COMMON, "г": "h", "и": "y", "і": "i", "е": "e", "ы": "y", "э": "e", "ё": "io"}
_UK_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_UK_INNER = {"є": "ie", "ї": "i", "й": "i", "ю": "iu", "я": "ia"}
# Russian, BGN/PCGN-like without diacritics: е/ё are ye after a vowel, a sign
# or at the start of a word, e otherwise.
_CYR_RU = {
    **_CYR_COMMON,
    "г": "g",
    "и": "i",
    "і": "i",
    "ы": "y",
    "э": "e",
    "й": "y",
    "ю": "yu",
    "я": "ya",
    "є": "ye",
    "ї": "yi",
}
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
_KMU = {
    **{k: v for k, v in _CYR_COMMON.items() if k in "абвджзклмнопрстуфхцчшщьґ"},
    "г": "h",
    "е": "e",
    "и": "y",
    "і": "i",
    # Russian letters met in mixed names, so they do not pass through as Cyrillic
    "ё": "io",
    "ы": "y",
    "э": "e",
    "ъ": "",
}


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
