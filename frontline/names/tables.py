"""The name index's lookup tables as numpy arrays: trigram codes of keys and CSR groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
