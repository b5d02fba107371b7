"""What the ground faces beyond each bank (enemy, grey, border, own, sea), and a stored version's corridor inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from frontline.geodesy import LocalProjection

from .measure import _Home

_HOSTILE = ("enemy", "grey")


#: Probes beyond an edge (metres, along its outward normal): past the
#: outline's simplification (``simplify_m``, 10 m), and 40 m deep.
_PROBE_M = (20.0, 60.0)
#: Enemy home ground (undrawn) seen beyond an edge is probed again this far
#: out; the sea or another state there means a sliver the drawing left
#: against the coast or border (as in :mod:`frontline.analysis.contact_line`).
_SLIVER_M = 500.0
#: Spacing of the edge samples (metres).
_STEP_M = 10.0


def _geometry_lookup(
    enemy: BaseGeometry | None, contested: BaseGeometry | None, home: BaseGeometry | None, ground: BaseGeometry
):
    """``f(lon, lat) → (owner, state)`` from plain geometries (see :func:`find_necks`).

    Owner: ``"enemy"`` in ``enemy``, else ``"grey"`` in ``contested``, else
    ``"own"`` in ``home``; None elsewhere (the sea). State: ``"home"`` in
    ``home``, ``"enemy"`` in the rest of the known land (the ground, the
    enemy's and the grey zone), None elsewhere.
    """
    parts = [
        (g, lab)
        for g, lab in ((home, "own"), (contested, "grey"), (enemy, "enemy"))
        if g is not None and not g.is_empty
    ]
    land = [g for g in (ground, enemy, contested) if g is not None and not g.is_empty]
    for g in [g for g, _ in parts] + land:
        shapely.prepare(g)

    def lookup(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        owner = np.full(len(lon), None, dtype=object)
        for g, lab in parts:  # later labels win: enemy ground inside home is enemy
            owner[shapely.contains_xy(g, lon, lat)] = lab
        state = np.full(len(lon), None, dtype=object)
        for g in land:
            state[shapely.contains_xy(g, lon, lat)] = "enemy"
        if home is not None:
            state[shapely.contains_xy(home, lon, lat)] = "home"
        return owner, state

    return lookup


class _Facing:
    """What lies beyond the edges of the analysed ground (the rule in ``docs/corridors.md``).

    ``lookup(lon, lat)`` gives ``(owner, state)`` per point: owner
    ``"own"``, ``"enemy"``, ``"grey"`` or None (sea, inland water, land
    outside the theatre); state ``"home"`` (the side's home), ``"enemy"``
    (another side's home) or None. An edge sample faces the enemy (grey
    zone) when both probes beyond it land in enemy (grey) ground of the same
    state as the ground at the edge (not across a state border), and, for
    enemy home ground, the state goes on ``_SLIVER_M`` out (no coast or
    border sliver). Probes falling back into the ground say nothing.
    """

    def __init__(self, lookup, proj: LocalProjection, home: _Home | None):
        self.lookup = lookup
        self.proj = proj
        self.home = home

    def _look(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(x):
            e = np.array([], dtype=object)
            return e, e
        ll = shapely.get_coordinates(self.proj.to_lonlat(shapely.points(x, y)))
        owner, state = self.lookup(ll[:, 0], ll[:, 1])
        return np.asarray(owner, dtype=object), np.asarray(state, dtype=object)

    @staticmethod
    def _samples(ground: BaseGeometry, lines: BaseGeometry, step: float):
        """Edge samples: midpoints, outward unit normals and lengths of ``lines`` cut every ``step``."""
        parts = [q for q in shapely.get_parts(lines) if q.geom_type in ("LineString", "LinearRing")]
        xs, ns, ls = [], [], []
        for q in parts:
            c = shapely.get_coordinates(shapely.segmentize(q, step))
            if len(c) < 2:
                continue
            t = c[1:] - c[:-1]
            L = np.hypot(t[:, 0], t[:, 1])
            ok = L > 1e-6
            xs.append((0.5 * (c[1:] + c[:-1]))[ok])
            ns.append(np.column_stack([t[ok, 1], -t[ok, 0]]) / L[ok, None])
            ls.append(L[ok])
        if not xs:
            return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
        m, n, L = np.concatenate(xs), np.concatenate(ns), np.concatenate(ls)
        flip = shapely.contains_xy(ground, m[:, 0] + n[:, 0], m[:, 1] + n[:, 1])  # the normal points inwards
        n[flip] *= -1
        return m, n, L

    def classify(self, items: list[tuple[BaseGeometry, BaseGeometry, float]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per ``(ground, edge lines, sample spacing m)``: the label of each edge sample and its length (m).

        Labels: ``"enemy"``, ``"grey"``, ``"border"`` (beyond a state border,
        or a sliver against one), ``"own"``, ``"sea"`` (nothing beyond, or a
        sliver against the coast) and ``"inside"`` (the probes fall back
        into the ground: no information). One lookup serves all items.
        """
        for g, _, _ in items:
            shapely.prepare(g)
        samples = [self._samples(g, ln, step) for g, ln, step in items]
        if not any(len(L) for _, _, L in samples):
            return [(np.array([], dtype=object), L) for _, _, L in samples]
        r1, r2 = _PROBE_M
        inside = []
        for (g, _, _), (m, n, _) in zip(items, samples):
            ins = np.zeros(len(m), bool)
            for r in (r1, r2):
                ins |= shapely.contains_xy(g, m[:, 0] + r * n[:, 0], m[:, 1] + r * n[:, 1])
            inside.append(ins)
        m = np.concatenate([sm for sm, _, _ in samples])
        n = np.concatenate([sn for _, sn, _ in samples])
        k = len(m)
        px = np.concatenate([m[:, 0] - 2.0 * n[:, 0], m[:, 0] + r1 * n[:, 0], m[:, 0] + r2 * n[:, 0]])
        py = np.concatenate([m[:, 1] - 2.0 * n[:, 1], m[:, 1] + r1 * n[:, 1], m[:, 1] + r2 * n[:, 1]])
        owner, state = self._look(px, py)
        s_in, o1, s1, o2 = state[:k], owner[k : 2 * k], state[k : 2 * k], owner[2 * k :]
        h1 = np.isin(o1.astype(str), _HOSTILE)
        h2 = np.isin(o2.astype(str), _HOSTILE)
        label = np.where(o2 == "own", "own", "sea").astype(object)
        hostile = h1 & h2
        across = hostile & (s1 != s_in)  # beyond a state border: the undisputed border, no front
        label[across] = "border"
        front = hostile & ~across
        label[front] = np.where((o1[front] == "enemy") | (o2[front] == "enemy"), "enemy", "grey")
        home_ground = front & (o1 == "enemy") & (s1 == "enemy")
        idx = np.flatnonzero(home_ground)
        if len(idx):  # enemy home ground: a sliver the drawing left against the coast or a border?
            _, s3 = self._look(m[idx, 0] + _SLIVER_M * n[idx, 0], m[idx, 1] + _SLIVER_M * n[idx, 1])
            sliver = s3 != s1[idx]
            label[idx[sliver]] = np.where(s3[sliver] == None, "sea", "border")  # noqa: E711
        out, i = [], 0
        for ins, (_, _, L) in zip(inside, samples):
            lab = label[i : i + len(L)].copy()
            lab[ins] = "inside"
            out.append((lab, L))
            i += len(L)
        return out

    def banks(
        self, jobs: list[tuple[BaseGeometry, BaseGeometry, np.ndarray, np.ndarray, float]]
    ) -> list[tuple[str, str]]:
        """Labels of both banks per neck job ``(ground, boundary, p1, p2, width)``; see :data:`BANK_LABELS`."""
        items, meta = [], []
        for ground, boundary, p1, p2, width in jobs:
            rho = max(12.0, min(60.0, 0.4 * width))  # the bank's own edge, short of the other bank
            for p in (p1, p2):
                near = shapely.clip_by_rect(boundary, p[0] - rho, p[1] - rho, p[0] + rho, p[1] + rho)
                near = shapely.intersection(near, Point(p).buffer(rho, quad_segs=8)) if not near.is_empty else near
                items.append((ground, near, max(2.0, min(_STEP_M, rho / 3))))
                meta.append(p)
        res = self.classify(items)
        labels = []
        for (lab, _), p in zip(res, meta):
            on_border = self.home is not None and bool(shapely.dwithin(self.home.line_m, Point(p), self.home.tol))
            for cand in ("enemy", "grey"):
                if (lab == cand).any():
                    labels.append(cand)
                    break
            else:
                if on_border or (lab == "border").any():
                    labels.append("border")
                elif (lab == "own").any():
                    labels.append("own")
                else:
                    labels.append("sea")
        return [(labels[2 * i], labels[2 * i + 1]) for i in range(len(jobs))]

    def front_km(self, geoms: list[BaseGeometry]) -> list[float]:
        """Length (km, planar in the local projection) of each outline facing enemy or grey ground.

        Outlines are sampled every 25 m (at most 4000 samples each).
        """
        if not geoms:
            return []
        items = [(g, shapely.boundary(g), max(25.0, float(shapely.length(g)) / 4000)) for g in geoms]
        return [float(L[np.isin(lab.astype(str), _HOSTILE)].sum()) / 1000.0 for lab, L in self.classify(items)]


_FILLED: dict[int, tuple[BaseGeometry, dict[str, BaseGeometry]]] = {}


def _filled(homes: dict[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """Homes with inland water filled (exterior rings), prepared; cached per theatre."""
    key = id(homes)
    hit = _FILLED.get(key)
    if hit is not None and hit[0] is homes:
        return hit[1]
    out = {}
    for side, g in homes.items():
        polys = [Polygon(q.exterior) for q in shapely.get_parts(g) if q.geom_type == "Polygon"]
        out[side] = shapely.multipolygons(polys) if len(polys) > 1 else polys[0]
        shapely.prepare(out[side])
    if len(_FILLED) > 8:
        _FILLED.clear()
    _FILLED[key] = (homes, out)
    return out


def surroundings(control, side: str):
    """Who holds each point, and in which state, as side ``side`` sees it, on a stored version.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (or a ControlMap read
        from a store).
    side
        The side whose ground is analysed.

    Returns
    -------
    callable
        ``f(lon, lat) → (owner, state)``, numpy arrays: owner ``"own"`` (held
        by ``side``), ``"enemy"`` (held by another side), ``"grey"``
        (contested) or None (sea, inland water, land outside the theatre);
        state ``"home"`` (inside ``side``'s home, inland water included),
        ``"enemy"`` (inside another side's) or None. The ``enemy`` argument
        of :func:`find_necks`. Uses the partition's tile parts and homes
        only: no side's whole ground is built.
    """
    from ...model import CONTESTED, ControlMap
    from ..contact_line import locate

    vc = control.control if isinstance(control, ControlMap) else control
    homes = vc.theatre.homes
    if side not in homes:
        raise ValueError(f"Unknown side {side!r}; the sides are {', '.join(homes)}.")

    def lookup(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        who = locate(vc, lon, lat)
        owner = np.full(len(who), None, dtype=object)
        owner[who != None] = "enemy"  # noqa: E711 - elementwise on an object array
        owner[who == side] = "own"
        owner[who == CONTESTED] = "grey"
        state = np.full(len(who), None, dtype=object)
        for s_, g in _filled(homes).items():
            x0, y0, x1, y1 = g.bounds
            sel = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1) & (state == None))  # noqa: E711
            if len(sel):
                hit = shapely.contains_xy(g, lon[sel], lat[sel])
                state[sel[hit]] = "home" if s_ == side else "enemy"
        return owner, state

    return lookup


def corridor_inputs(control, side: str, scope: str = "abroad", include_contested: bool = False) -> dict[str, Any]:
    """Keyword arguments of :func:`find_necks` for one side of a stored version.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (``version_control``)
        or a ControlMap read from a store.
    side
        Whose ground (``"ua"``, ``"ru"``).
    scope
        ``"abroad"``: the side's ground outside its home (salients; home is
        their rear); ``"all"``: all its ground.
    include_contested
        Add the grey zone to the ground. With ``scope="abroad"`` only grey
        ground outside the side's home is added: grey ground inside its own
        home is not ground abroad.

    Returns
    -------
    dict
        ``held``, ``home``, ``contested``, ``include_contested`` and
        ``enemy`` (:func:`surroundings`). ``held`` may be empty: check it
        before calling :func:`find_necks` to word the error for the user.

    Raises
    ------
    ValueError
        For an unknown side or scope.
    """
    from ...model import CONTESTED, ControlMap

    vc = control.control if isinstance(control, ControlMap) else control
    if vc is None or not hasattr(vc, "tile_parts"):
        raise ValueError("corridor_inputs needs a version read from a store (a VersionControl).")
    if side not in vc.sides:
        raise ValueError(f"Unknown side {side!r}; the sides are {', '.join(vc.sides)}.")
    if scope not in ("abroad", "all"):
        raise ValueError(f"Unknown scope {scope!r}; choose 'abroad' or 'all'.")
    if scope == "abroad":
        held = vc.abroad(side)
        grey = [vc.part(h, CONTESTED) for h in vc.sides if h != side]
        grey = [g for g in grey if not g.is_empty]
        contested = shapely.union_all(grey) if len(grey) > 1 else (grey[0] if grey else Polygon())
    else:
        held = vc.held(side)
        contested = vc.contested
    return {
        "held": held,
        "home": vc.theatre.homes[side],
        "contested": contested,
        "include_contested": include_contested,
        "enemy": surroundings(vc, side),
    }


def corridor_key(control, inputs: dict[str, Any], pad_deg: float = 0.1) -> str:
    """A content key of what :func:`find_necks` reads for ``inputs`` (from :func:`corridor_inputs`).

    The ground, the grey zone when it is part of the ground, and every tile
    part of the partition within ``pad_deg`` (0.1°, about 7–11 km: past the
    widest neck searched and the farthest probe) of the ground's bounds.
    Consecutive versions often leave a salient and its surroundings
    untouched (147 of the 234 versions of ua's ground in Russia from August
    2024 to March 2025): a series analyses each key once.
    """
    import hashlib

    from ...model import ControlMap

    vc = control.control if isinstance(control, ControlMap) else control
    h = hashlib.blake2b(digest_size=16)
    held = inputs["held"]
    h.update(shapely.to_wkb(held))
    h.update(b"contested" if inputs.get("include_contested") else b"held")
    if inputs.get("include_contested") and inputs.get("contested") is not None:
        h.update(shapely.to_wkb(inputs["contested"]))
    if not held.is_empty:
        x0, y0, x1, y1 = held.bounds
        window = shapely.box(x0 - pad_deg, y0 - pad_deg, x1 + pad_deg, y1 + pad_deg)
        for (home, what), parts in sorted(vc.tile_parts().items()):
            for g in parts:
                if shapely.intersects(g, window):
                    h.update(f"{home}|{what}".encode())
                    h.update(shapely.to_wkb(g))
    return h.hexdigest()
