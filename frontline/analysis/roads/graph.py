"""The road graph: junction edges, reachability and shortest paths over numpy edge arrays."""

from __future__ import annotations

import heapq
import math

import numpy as np
import shapely


def _junction_edges(lines: np.ndarray, region_of=None):
    """Split lines into graph edges at shared vertices (OSM junction semantics).

    A vertex becomes a graph node when it is a line end, occurs more than once
    (shared by two ways, or a loop), or when the region it lies in (salient,
    home, neither) differs from a neighbouring vertex's — so every road
    entering home or the salient gets a node just inside it.

    Returns ``(edges, line_of_edge, u, v, node_xy)``.
    """
    xy, li = shapely.get_coordinates(lines, return_index=True)
    # Drop repeated consecutive vertices: they would make zero-length edges.
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = ~((li[1:] == li[:-1]) & np.all(xy[1:] == xy[:-1], axis=1))
    xy, li = xy[keep], li[keep]
    # Vertices equal to ~1 cm are the same node.
    key = np.round(xy * 1e7).astype(np.int64)
    _, vid, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    vid = vid.reshape(-1)
    n = len(xy)
    first = np.ones(n, dtype=bool)
    first[1:] = li[1:] != li[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = li[1:] != li[:-1]
    is_node = first | last | (counts[vid] > 1)
    if region_of is not None:
        code = region_of(xy)
        change = np.zeros(n, dtype=bool)
        d = (code[1:] != code[:-1]) & (li[1:] == li[:-1])
        change[1:] |= d
        change[:-1] |= d
        is_node |= change
    pos = np.flatnonzero(is_node)
    same_line = li[pos[1:]] == li[pos[:-1]]
    a, b = pos[:-1][same_line], pos[1:][same_line]
    lengths = b - a + 1
    starts = np.repeat(a, lengths)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cidx = starts + offs
    edges = shapely.linestrings(xy[cidx], indices=np.repeat(np.arange(len(a)), lengths))
    u_raw, v_raw = vid[a], vid[b]
    # Renumber the nodes that are used by edges as 0..N-1.
    used, inv = np.unique(np.concatenate([u_raw, v_raw]), return_inverse=True)
    u, v = inv[: len(a)], inv[len(a) :]
    node_xy = np.zeros((len(used), 2))
    node_xy[u] = xy[a]
    node_xy[v] = xy[b]
    return edges, li[a], u, v, node_xy


def _reachable(n_nodes: int, u: np.ndarray, v: np.ndarray, ok: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Nodes connected to any seed through usable edges (breadth-first)."""
    eids = np.flatnonzero(ok)
    frm = np.concatenate([u[eids], v[eids]])
    to = np.concatenate([v[eids], u[eids]])
    order = np.argsort(frm, kind="stable")
    to_l = to[order].tolist()
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n_nodes), out=ptr[1:])
    ptr_l = ptr.tolist()
    seen = bytearray(n_nodes)
    stack = seeds.tolist()
    for s in stack:
        seen[s] = 1
    while stack:
        x = stack.pop()
        for k in range(ptr_l[x], ptr_l[x + 1]):
            y = to_l[k]
            if not seen[y]:
                seen[y] = 1
                stack.append(y)
    return np.frombuffer(bytes(seen), dtype=np.uint8).astype(bool)


def _dijkstra(
    n_nodes: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, ok: np.ndarray, sources: np.ndarray, sink: np.ndarray
) -> tuple[list[float], list[int], list[int]]:
    """Multi-source Dijkstra on the undirected graph; sinks are reached but not passed through.

    Returns distances, the edge each node was reached by (-1 for sources and
    unreached), and the sinks in order of increasing distance.
    """
    eids = np.flatnonzero(ok)
    frm = np.concatenate([u[eids], v[eids]])
    to = np.concatenate([v[eids], u[eids]])
    eid = np.concatenate([eids, eids])
    order = np.argsort(frm, kind="stable")
    to_l, eid_l = to[order].tolist(), eid[order].tolist()
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n_nodes), out=ptr[1:])
    ptr_l, w_l, sink_l = ptr.tolist(), w.tolist(), sink.tolist()
    inf = math.inf
    dist = [inf] * n_nodes
    pred = [-1] * n_nodes
    done = bytearray(n_nodes)
    heap = []
    for s in sources.tolist():
        dist[s] = 0.0
        heap.append((0.0, s))
    heapq.heapify(heap)
    reached = []
    while heap:
        d, x = heapq.heappop(heap)
        if done[x]:
            continue
        done[x] = 1
        if sink_l[x]:
            reached.append(x)
            continue  # the route ends on entering home; don't route through it
        for k in range(ptr_l[x], ptr_l[x + 1]):
            y = to_l[k]
            e = eid_l[k]
            nd = d + w_l[e]
            if nd < dist[y]:
                dist[y] = nd
                pred[y] = e
                heapq.heappush(heap, (nd, y))
    return dist, pred, reached
