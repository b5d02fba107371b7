"""The war's theatre as a lon/lat box, and great-circle distances to points and to the box."""

from __future__ import annotations

import numpy as np

__all__ = ["THEATRE_BBOX", "THEATRE_SLACK_KM"]

# The theatre as a box: Ukraine (22.1–40.2°E, 44.4–52.4°N) and the Russian
# side's home (30–42.5°E, 44–54.5°N, the partition rule's box). A place
# within THEATRE_SLACK_KM of it counts as in the theatre.
THEATRE_BBOX: tuple[float, float, float, float] = (22.0, 44.0, 42.5, 54.5)
THEATRE_SLACK_KM = 50.0

_EARTH_RADIUS_KM = 6371.0088


def _haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle km between points given in degrees (numpy broadcasting)."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _box_km(box, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle km from each point to the nearest point of a lon/lat box (0 inside)."""
    x0, y0, x1, y1 = box
    cx, cy = np.clip(lon, x0, x1), np.clip(lat, y0, y1)
    return _haversine_km(lon, lat, cx, cy)
