"""Reading records from users' files: blank cells, required times, read results and JSON line numbers.

The claims and events readers (:mod:`frontline.sources.claims`, :mod:`frontline.sources.events`) share these, so
that a cell counts as blank, and a record's line is found, the same way in both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import InputError
from ..times import parse_time

__all__ = ["ReadResult", "ItemsAs", "blank", "required_time", "load_json", "array_lines"]

T = TypeVar("T")

_SPACE = " \t\r\n"  # JSON's whitespace


@dataclass
class ReadResult(Generic[T]):
    """Records read from a file and one problem line (``"<file> line N: why"``) per record skipped."""

    items: list[T]
    problems: list[str]
    source: str = ""


class ItemsAs(Generic[T]):
    """``items`` of a :class:`ReadResult` under the name its callers use (``claims``, ``events``), read-write."""

    def __get__(self, obj: ReadResult[T], owner: type | None = None) -> list[T]:
        return obj.items

    def __set__(self, obj: ReadResult[T], value: list[T]) -> None:
        obj.items = value


def blank(value: Any) -> bool:
    """Whether a cell gives nothing: None, blank text, or NaN (what pandas and spreadsheets write for empty)."""
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def required_time(value: Any) -> int:
    """Epoch seconds (UTC) of a time a record must give (see :func:`frontline.times.parse_time`).

    Parameters
    ----------
    value
        ISO text, epoch seconds, a ``datetime`` or a ``date``.

    Raises
    ------
    InputError
        ``"is missing"`` when the value is blank; otherwise (or a ``ValueError`` from
        :func:`~frontline.times.parse_time`) the reason it is not a time. The caller adds where.
    """
    if blank(value):
        raise InputError("is missing")
    try:
        t = parse_time(value)
    except OverflowError as exc:  # parse_time maps the ranges it knows; this guards any other one
        raise InputError(f"time {value!r} is out of range ({exc})") from None
    if t is None:  # None and blank text are caught above; kept so that the type says int
        raise InputError("is missing")
    return t


def load_json(text: str) -> Any:
    """The JSON document in ``text``.

    Raises
    ------
    InputError
        ``"line N: not valid JSON (why)"``; the caller adds the file.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", where=f"line {exc.lineno}") from None


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _value_at(text: str, key: str) -> int | None:
    """Where the value of the top-level object's ``key`` starts (the last one, as :func:`json.loads` keeps)."""
    dec = json.JSONDecoder()
    pos = _skip(text, 0)
    if text[pos : pos + 1] != "{":
        return None
    found = None
    pos = _skip(text, pos + 1)
    while pos < len(text) and text[pos] == '"':
        name, pos = dec.raw_decode(text, pos)
        pos = _skip(text, _skip(text, pos) + 1)  # past the ':'
        if name == key:
            found = pos
        _, pos = dec.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
    return found


def array_lines(text: str, key: str | None = None) -> list[int]:
    """The line where each element of a JSON array starts, for messages.

    The array is the document itself (``key`` None) or the value of the top-level object's ``key``; nested
    objects with the same key, and strings that look like one, are skipped over, never taken for it.

    Parameters
    ----------
    text
        A valid JSON document (one :func:`load_json` has read).
    key
        The top-level key holding the array (``"features"``, ``"claims"``, ``"losses"``), or None.

    Returns
    -------
    list of int
        1-based line numbers, one per element; empty when there is no such array.
    """
    start = _skip(text, 0) if key is None else _value_at(text, key)
    if start is None or text[start : start + 1] != "[":
        return []
    dec = json.JSONDecoder()
    lines: list[int] = []
    line, counted = 1, 0  # lines are counted on from the last element: one pass over the text
    pos = _skip(text, start + 1)
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        _, pos = dec.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
    return lines
