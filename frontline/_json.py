"""JSON-safe copies of analysis results: one cleaner for the API, webhooks and the claims ledger."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry


def plain(obj: Any) -> Any:
    """``obj`` made JSON-safe.

    Dict keys become strings, tuples become lists, numpy scalars become Python
    numbers, NaN and infinities become None (JSON has neither) and geometries
    become GeoJSON mappings. Anything else is returned as it is.
    """
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, BaseGeometry):
        return plain(mapping(obj))
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
