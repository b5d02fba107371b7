"""Incremental pull from a DeepState-shaped API into a store: only new or revised versions.

``pull(store, base_url)`` lists the feed's versions (:func:`frontline.sources.live.list_versions`), works out
which ones the store lacks or holds in an older revision (by the listing's ``updatedAt``), fetches those one by
one and imports each in its own transaction through :class:`frontline.ingest.Importer`.

Resilience
----------
* Requests go through :mod:`frontline._http`: time-outs, retries with backoff and jitter, ``Retry-After``
  honoured, client errors not retried, a descriptive ``User-Agent`` (pass ``contact=``, an e-mail or URL, so
  the feed's operators can reach you, or a whole ``user_agent=``).
* Bodies shorter than their ``Content-Length``, bodies that are not JSON and JSON of the wrong shape are
  reported for that version (by id and URL) and nothing of it is stored; the next run fetches it again.
* State lives in the store itself: a re-run, after a crash or a ``kill -9``, fetches only what is still missing
  or revised. A version is imported atomically (one SQLite transaction).
* A version re-fetched because its ``updatedAt`` moved, whose content turns out unchanged, is remembered in
  ``pull_state`` (:mod:`frontline.store.pull_state`) so that it is not fetched again on every run.
* ``stop_event`` (a :class:`threading.Event`) is checked between versions and during waits: a stop finishes the
  version being imported or abandons the one being fetched, never half of either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ._http import HttpOptions, Stopped, user_agent
from .ingest import Importer
from .sources import deepstate
from .sources.live import DEFAULT_BASE_URL, http_get, list_versions
from .store import GeoPackageStore, ImportReport, pull_state

log = logging.getLogger("frontline.live")


def _epoch(value) -> int | None:
    try:
        dt = deepstate._to_dt(value)
    except ValueError:
        return None
    return int(dt.timestamp()) if dt else None


def pending(store: GeoPackageStore, entries: list[dict], source: str = deepstate.SOURCE) -> list[dict]:
    """Listing entries that are new to the store or revised since (later ``updatedAt``).

    Parameters
    ----------
    store
        The store pulled into.
    entries
        The feed's listing.
    source
        Source name in the store.

    Returns
    -------
    list of dict
        The entries to fetch, in id (time) order.
    """
    have = {v.version_id: v for v in store.versions(source)} if source in store.sources() else {}
    checked = pull_state.checked(store, source)
    out = []
    for e in sorted(entries, key=lambda i: int(str(i["id"]).strip())):
        vid = str(int(str(e["id"]).strip()))
        v = have.get(vid)
        if v is None:
            out.append(e)
            continue
        upd = _epoch(e.get("updatedAt"))
        if upd is None:
            continue
        seen = max(x for x in (v.revised_at, v.published_at, checked.get(vid), 0) if x is not None)
        if upd > seen:
            out.append(e)
    return out


@dataclass
class PullResult:
    """What one pull did.

    Attributes
    ----------
    base_url
        The feed.
    listed
        Versions in the feed's listing.
    pending
        Versions found new or revised, hence fetched.
    report
        The import report (``added``, ``revised``, ``unchanged``, ``failed``,
        ``problems`` by origin).
    failed
        ``(version id, reason)`` of versions not imported this time (they are
        fetched again by the next pull).
    imported
        ``(version id, status)`` in order, status ``added``/``revised``/``unchanged``.
    stopped
        True when a stop request cut the pull short.
    error
        Why the listing could not be read (then nothing was fetched).
    elapsed_s
        Wall time.
    """

    base_url: str
    listed: int = 0
    pending: int = 0
    report: ImportReport = field(default_factory=ImportReport)
    failed: list[tuple[str, str]] = field(default_factory=list)
    imported: list[tuple[str, str]] = field(default_factory=list)
    stopped: bool = False
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """No listing error and no failed version."""
        return self.error is None and not self.failed

    def as_dict(self) -> dict:
        """JSON-ready summary with stable field names."""
        r = self.report
        return {
            "base_url": self.base_url,
            "listed": self.listed,
            "pending": self.pending,
            "added": r.added,
            "revised": r.revised,
            "unchanged": r.unchanged,
            "failed": len(self.failed),
            "new_features": r.new_features,
            "stopped": self.stopped,
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 3),
            "imported": [{"version": v, "status": s} for v, s in self.imported],
            "failures": [{"version": v, "reason": m} for v, m in self.failed],
            "problems": [{"origin": o, "message": m} for o, m in r.problems],
        }


def pull(
    store: GeoPackageStore,
    base_url: str = DEFAULT_BASE_URL,
    *,
    progress: bool = True,
    importer: Importer | None = None,
    opts: HttpOptions | None = None,
    contact: str | None = None,
    stop_event: threading.Event | None = None,
    source: str = deepstate.SOURCE,
    max_versions: int | None = None,
    sleep=time.sleep,
    **http,
) -> PullResult:
    """Fetch and import what the feed has that the store lacks; each version atomically.

    Parameters
    ----------
    store
        A writable store.
    base_url
        The API root (``…/api``); the listing is ``{base_url}/history/public``.
    progress
        Draw a progress bar on stderr.
    importer
        Reuse an importer (and its caches) across pulls, as ``watch`` does.
    opts
        Request options; ``timeout``, ``retries``, ``backoff``, ``user_agent``
        may also be given as keyword arguments.
    contact
        Contact put in the User-Agent (when ``user_agent`` is not given).
    stop_event
        Checked between versions and during waits.
    source
        Source name in the store.
    max_versions
        Fetch at most this many pending versions (oldest first); the rest
        wait for the next pull.

    Returns
    -------
    PullResult
        A failed listing is reported in ``error`` (nothing raised); a version
        that cannot be fetched or read is in ``failed`` and the others go on.
    """
    t0 = time.perf_counter()
    if opts is None:
        opts = _options(contact, http)
    imp = importer or Importer(store)
    res = PullResult(base_url=base_url, report=imp.report if importer is None else ImportReport())
    run = _Run(store, res, imp, opts, stop_event, sleep, source)
    entries = run.listing()
    if entries is not None:
        res.listed = len(entries)
        todo = pending(store, entries, source)
        if max_versions is not None:
            todo = todo[:max_versions]
        res.pending = len(todo)
        run.versions(todo, progress)
        if res.pending or res.failed:
            store.log_import(f"pull {base_url}", res.report)
    res.elapsed_s = time.perf_counter() - t0
    return res


def _options(contact: str | None, http: dict) -> HttpOptions:
    """Request options from ``pull``'s keyword arguments (a User-Agent naming ``contact`` unless given)."""
    kw = {k: v for k, v in http.items() if k in HttpOptions.__dataclass_fields__}
    if "user_agent" not in kw:
        kw["user_agent"] = user_agent(contact)
    return HttpOptions(**kw)


def _version_id(entry: dict) -> str:
    """A listing entry's id as the store keeps it (``" 0042"`` → ``"42"``)."""
    return str(int(str(entry["id"]).strip()))


@dataclass
class _Run:
    """One pull's steps: read the listing, then fetch and import each pending version into ``res``."""

    store: GeoPackageStore
    res: PullResult
    imp: Importer
    opts: HttpOptions
    stop_event: threading.Event | None
    sleep: Callable[[float], None]
    source: str

    def listing(self) -> list[dict] | None:
        """The feed's listing; None when it cannot be read (``res.error``) or a stop came first."""
        try:
            return list_versions(self.res.base_url, self.opts, stop_event=self.stop_event, sleep=self.sleep)
        except deepstate.FetchError as exc:
            self.res.error = str(exc)
            log.error("pull %s: cannot read the listing: %s", self.res.base_url, exc)
        except Stopped:
            self.res.stopped = True
        return None

    def versions(self, todo: list[dict], progress: bool) -> None:
        """Fetch and import the ``todo`` entries in order, each on its own; a stop ends the loop between them."""
        from ._progress import progress_bar

        with progress_bar(len(todo), "Pulling", enabled=progress) as advance:
            for entry in todo:
                if self.stop_event is not None and self.stop_event.is_set():
                    self.res.stopped = True
                    break
                if not self.version(entry):
                    self.res.stopped = True
                    break
                advance()

    def version(self, entry: dict) -> bool:
        """Fetch one version and import it; False when a stop abandoned the fetch.

        A version that cannot be fetched, read or imported is recorded in ``res`` and the pull goes on.
        """
        vid = _version_id(entry)
        url = f"{self.res.base_url.rstrip('/')}/history/{vid}/geojson"
        try:
            body = http_get(url, self.opts, stop_event=self.stop_event, sleep=self.sleep)
            raw = deepstate.snapshot_from_bytes(body, url, vid, meta=entry)
        except Stopped:
            return False
        except (deepstate.FetchError, ValueError) as exc:
            self._failed(vid, url, exc, str(exc) if str(exc).startswith(url) else f"{url}: {exc}")
            log.warning("version %s not imported (will be fetched again next time): %s", vid, exc)
            return True
        status = self._import(raw, vid, url)
        if status != "failed":
            self.res.imported.append((vid, status))
            pull_state.remember(self.store, self.source, vid, _epoch(entry.get("updatedAt")), raw.content_hash)
            log.info("version %s %s (%d features)", vid, status, len(raw.features or ()))
        return True

    def _import(self, raw, vid: str, url: str) -> str:
        """Import one snapshot: ``added``/``revised``/``unchanged``, or ``failed`` (recorded)."""
        mine = self.imp.report
        # A shared importer (watch) keeps its own report: bring what this version added into this pull's.
        before = (
            mine.added,
            mine.revised,
            mine.unchanged,
            mine.new_features,
            len(mine.problems),
            mine.skipped_features,
        )
        try:
            status = self.imp.add(raw)
        except ValueError as exc:
            status = "failed"
            self._failed(vid, url, exc, f"{url}: {exc}")
            log.warning("version %s rejected: %s", vid, exc)
        rep = self.res.report
        if mine is not rep:
            rep.added += mine.added - before[0]
            rep.revised += mine.revised - before[1]
            rep.unchanged += mine.unchanged - before[2]
            rep.new_features += mine.new_features - before[3]
            rep.skipped_features += mine.skipped_features - before[5]
            rep.problems.extend(mine.problems[before[4] :])
        return status

    def _failed(self, vid: str, url: str, exc: Exception, message: str) -> None:
        """Record a version not imported this time (the next pull fetches it again)."""
        self.res.failed.append((vid, message))
        self.res.report.failed += 1
        self.res.report.problems.append((url, str(exc)))
