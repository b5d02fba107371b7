"""Watch a live feed: pull, analyse, alert, wait; until stopped.

Each cycle pulls new and revised versions (:func:`frontline.live_pull.pull`,
each version in its own transaction), logs the latest areas, evaluates the
alert rules (:mod:`frontline.alerts`) on the versions they have not seen and
sleeps until the next cycle. ``SIGINT``/``SIGTERM`` (or ``stop_event``) stop it
cleanly: the version being imported is finished, one being fetched is
abandoned, nothing is left half-written. A failing feed or rule is logged and
the loop goes on.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .sources import deepstate

DEFAULT_EVERY_S = 900.0


@dataclass
class Cycle:
    """What one watch cycle did."""

    number: int
    pull: dict = field(default_factory=dict)
    latest: str | None = None
    areas: dict = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    rule_errors: dict = field(default_factory=dict)
    elapsed_s: float = 0.0


def _latest_areas(store) -> tuple[str | None, dict]:
    """Latest version id and its clipped km² per side in each home (precomputed at import)."""
    from .analysis.area import area_series

    if not store.sources():
        return None, {}
    v = store.versions()[-1]
    out = {}
    for side in store.sides:
        rows = area_series(store, region=f"home:{side}", start=v.valid_time, end=v.valid_time)
        if rows:
            out[f"home:{side}"] = {k: rows[-1][k] for k in rows[-1] if k.endswith("_km2") and not k.startswith("peak")}
    return v.version_id, out


def watch(
    store_path,
    *,
    base_url: str = deepstate.DEFAULT_BASE_URL,
    every_s: float = DEFAULT_EVERY_S,
    rules_path=None,
    once: bool = False,
    stop_event: threading.Event | None = None,
    log: logging.Logger | None = None,
    max_cycles: int | None = None,
    handle_signals: bool = True,
    **pull_options,
) -> list[Cycle]:
    """Run pull → analyses → alert rules every ``every_s`` seconds until stopped.

    Parameters
    ----------
    store_path
        The store; created (with borders) when it does not exist.
    base_url
        API root of a DeepState-shaped feed.
    every_s
        Seconds from the start of one cycle to the start of the next.
    rules_path
        Alert rules (TOML, see :mod:`frontline.alerts`); None for none.
    once
        Run one cycle and return.
    stop_event
        Set it to stop (checked between versions, rules and while waiting).
    log
        Logger for the cycle summaries (default ``frontline.watch``).
    max_cycles
        Stop after this many cycles (tests).
    handle_signals
        On the main thread, turn SIGINT/SIGTERM into a clean stop (a second
        SIGINT interrupts at once; the open transaction is then rolled back).
    **pull_options
        Passed to :func:`frontline.live_pull.pull` (``timeout``,
        ``retries``, ``backoff``, ``contact``, ``user_agent``).

    Returns
    -------
    list of Cycle
        One summary per cycle run.

    Raises
    ------
    ValueError
        When the rules file is wrong (before any cycle runs).
    """
    from .alerts import AlertEngine, load_rules
    from .ingest import Importer

    log = log or logging.getLogger("frontline.watch")
    stop = stop_event or threading.Event()
    config = load_rules(rules_path) if rules_path else None
    store = _open_or_create(store_path, log)
    old = _stop_on_signals(stop, log) if handle_signals else {}
    cycles: list[Cycle] = []
    try:
        importer = Importer(store)
        engine = AlertEngine(config, store) if config else None
        if engine is not None:
            engine.notifier.stop_event = stop
        while not stop.is_set():
            t0 = time.monotonic()
            cycles.append(_cycle(len(cycles) + 1, store, base_url, importer, engine, stop, log, pull_options))
            if once or (max_cycles is not None and len(cycles) >= max_cycles):
                break
            stop.wait(max(0.0, every_s - (time.monotonic() - t0)))
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        store.close()
    if stop.is_set():
        log.info("watch stopped after %d cycle(s)", len(cycles))
    return cycles


def _open_or_create(path: Path | str, log: logging.Logger):
    """The store at ``path``, created (with borders) when there is none (a PostGIS URL is opened as it is)."""
    from .store import init_store, is_server_url, open_store

    if not is_server_url(path) and not Path(path).exists():
        log.info("creating store %s", path)
        init_store(path).close()
    return open_store(path)


def _stop_on_signals(stop: threading.Event, log: logging.Logger) -> dict:
    """Turn SIGINT/SIGTERM into setting ``stop`` (a second SIGINT interrupts at once); the old handlers.

    Only the main thread can install handlers: elsewhere nothing is changed.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("signal %s: stopping after the current step", signal.Signals(signum).name)
        stop.set()

    return {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}


def _cycle(
    n: int, store, base_url: str, importer, engine, stop: threading.Event, log: logging.Logger, pull_options: dict
) -> Cycle:
    """One cycle: pull, the latest areas, the alert rules; a failing feed, summary or rule is logged."""
    from .live_pull import pull

    t0 = time.monotonic()
    cyc = Cycle(n)
    res = pull(store, base_url, progress=False, importer=importer, stop_event=stop, **pull_options)
    cyc.pull = {k: v for k, v in res.as_dict().items() if k not in ("imported", "problems")}
    if res.error:
        log.error("cycle %d: feed unavailable: %s", n, res.error)
    for vid, reason in res.failed:
        log.warning("cycle %d: version %s not imported: %s", n, vid, reason)
    try:
        cyc.latest, cyc.areas = _latest_areas(store)
    except Exception as exc:  # analysis must not stop the loop
        log.error("cycle %d: area summary failed: %s", n, exc)
    if engine is not None and not stop.is_set():
        fired, runs = engine.run(stop_event=stop)
        cyc.alerts = [a.payload() for a in fired]
        cyc.rule_errors = {r.rule: r.error for r in runs if r.error}
    cyc.elapsed_s = time.monotonic() - t0
    log.info(
        "cycle %d: listed %d, fetched %d (added %d, revised %d, unchanged %d, failed %d); "
        "latest %s %s; %d alert(s)%s; %.1f s",
        n,
        res.listed,
        res.pending,
        res.report.added,
        res.report.revised,
        res.report.unchanged,
        len(res.failed),
        cyc.latest,
        " ".join(f"{k} {v}" for k, v in cyc.areas.items()),
        len(cyc.alerts),
        f"; rule errors: {cyc.rule_errors}" if cyc.rule_errors else "",
        cyc.elapsed_s,
    )
    return cyc
