"""Incremental pulls from live feeds into a store: only what is new or revised since the last pull.

``pull(store, base_url)`` lists a DeepState-shaped feed's versions (:func:`frontline.sources.live.list_versions`),
works out which ones the store lacks or holds in an older revision (by the listing's ``updatedAt``), fetches
those one by one and imports each in its own transaction through :class:`frontline.ingest.Importer`.

``pull_arcgis(store, url, mapping, layer=)`` reads an ArcGIS REST feature-service layer
(:mod:`frontline.sources.arcgis`): everything the first time, then only the features edited since the newest
edit date seen, merged by object id with the stored layer state; a changed state is one new version
(``docs/arcgis.md``).

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
from .sources import arcgis, deepstate
from .sources.live import DEFAULT_BASE_URL, http_get, list_versions
from .store import GeoPackageStore, ImportReport, VersionInfo, pull_state
from .times import parse_time

log = logging.getLogger("frontline.live")


def _epoch(value) -> int | None:
    """A listing entry's time (ISO text or epoch seconds) in epoch seconds; None when absent or unreadable."""
    try:
        # role "start": a bare date is its midnight, as the DeepState reader takes the same field
        return parse_time(value, role="start")
    except ValueError:
        return None


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


@dataclass
class LayerPullResult:
    """What one pull of an ArcGIS layer did.

    Attributes
    ----------
    url
        The layer's URL.
    source
        Source name in the store.
    incremental
        True when only edits since the last pull were asked for.
    wheres
        The ``where`` of each feature query sent.
    fetched
        Features fetched this time.
    features
        Features the layer holds after the merge.
    changed, deleted
        Features new or edited since the stored state, and features gone from the layer.
    version
        The version stored (its id), None when nothing changed or the pull failed.
    status
        ``added``/``revised``/``unchanged``/``failed``, None when nothing was imported.
    error
        Why the pull failed (then nothing was stored).
    report
        The import report.
    elapsed_s
        Wall time.
    """

    url: str
    source: str = ""
    incremental: bool = False
    wheres: list[str] = field(default_factory=list)
    fetched: int = 0
    features: int = 0
    changed: int = 0
    deleted: int = 0
    version: str | None = None
    status: str | None = None
    error: str | None = None
    report: ImportReport = field(default_factory=ImportReport)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """No error."""
        return self.error is None

    def as_dict(self) -> dict:
        """JSON-ready summary with stable field names."""
        return {
            "url": self.url,
            "source": self.source,
            "incremental": self.incremental,
            "wheres": list(self.wheres),
            "fetched": self.fetched,
            "features": self.features,
            "changed": self.changed,
            "deleted": self.deleted,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "new_features": self.report.new_features,
            "problems": [{"origin": o, "message": m} for o, m in self.report.problems],
            "elapsed_s": round(self.elapsed_s, 3),
        }


def pull_arcgis(
    store: GeoPackageStore,
    url: str,
    mapping: dict,
    *,
    layer: int | str | None = None,
    source: str | None = None,
    where: str | None = None,
    edit_field: str | None = None,
    full: bool = False,
    page_size: int | None = None,
    importer: Importer | None = None,
    opts: HttpOptions | None = None,
    contact: str | None = None,
    stop_event: threading.Event | None = None,
    sleep=time.sleep,
    now: Callable[[], float] = time.time,
    **http,
) -> LayerPullResult:
    """Pull an ArcGIS feature-service layer into the store: one new version when anything changed.

    The first pull (or ``full``) fetches every feature; later ones, when the layer has an edit-date field,
    ask only for features edited since the newest edit date seen (kept in ``pull_state``), and for the object
    ids the layer holds (to learn of deletions). The answer is merged with the stored layer state by object
    id and, when anything changed, stored as one version at the newest edit date (or now).

    Parameters
    ----------
    store
        A writable store.
    url
        The service (``…/FeatureServer``) with ``layer``, or the layer's URL when ``layer`` is None.
    mapping
        The value → role mapping (:func:`frontline.sources.arcgis.load_mapping`).
    layer
        The layer number.
    source
        Source name in the store (default ``arcgis:<host>/<layer name>``).
    where
        The user's SQL filter (default all features).
    edit_field
        The edit-date field (default the layer's ``editFieldsInfo.editDateField``); without one every pull
        fetches every feature.
    full
        Fetch every feature even when an incremental pull is possible (e.g. after changing the mapping).
    page_size
        Features per query (at most the layer's ``maxRecordCount``).
    importer
        Reuse an importer (and its caches) across pulls, as ``watch`` does.
    opts, contact, http
        Request options as for :func:`pull`.
    stop_event, sleep
        Checked during waits; injected for tests.
    now
        The clock used when no edit date gives the version's time.

    Returns
    -------
    LayerPullResult
        A failed request is reported in ``error`` (nothing raised, nothing stored).
    """
    from urllib.parse import urlsplit

    t0 = time.perf_counter()
    opts = opts or _options(contact, http)
    lurl = arcgis.layer_url(url, layer)
    res = LayerPullResult(url=lurl)
    kw = {"stop_event": stop_event, "sleep": sleep}
    try:
        info = arcgis.layer_info(lurl, opts, **kw)
        res.source = source or f"arcgis:{urlsplit(lurl).netloc}/{info.name}"
        run = _LayerRun(store, res, info, mapping, opts, kw, edit_field or info.edit_date_field, now)
        run.run(where, full, page_size, importer or Importer(store))
        if res.source in store.sources():  # the layer's own attribution, unless the user gave one
            from .store.source_info import record_default

            record_default(store, res.source, title=info.name, attribution=info.copyright or None, url=lurl)
    except deepstate.FetchError as exc:
        res.error = str(exc)
        log.error("pull %s: %s (nothing stored)", lurl, exc)
    except Stopped:
        res.error = "stopped"
    res.elapsed_s = time.perf_counter() - t0
    return res


@dataclass
class _LayerRun:
    """One layer pull's steps: the stored state, the query, the merge, the import."""

    store: GeoPackageStore
    res: LayerPullResult
    info: arcgis.LayerInfo
    mapping: dict
    opts: HttpOptions
    kw: dict
    edit_field: str | None
    now: Callable[[], float]
    latest: VersionInfo | None = None

    def stored(self) -> dict[str, bytes]:
        """``{object id: feature key}`` of the layer's latest stored version (empty when none)."""
        src = self.res.source
        if src not in self.store.sources():
            return {}
        versions = self.store.versions(src)
        if not versions:
            return {}
        self.latest = versions[-1]
        oid_field = self.info.object_id_field
        return {
            str(f.props.get(oid_field)): f.fkey
            for f in self.store.features_at(self.latest)
            if f.props.get(oid_field) is not None
        }

    def run(self, where: str | None, full: bool, page_size: int | None, imp: Importer) -> None:
        """Fetch, merge and import; fills ``res``."""
        base = where.strip() if where and where.strip() else "1=1"
        # the stored state is merged into even on a full pull: an unchanged layer adds no version
        state = self.stored()
        since = max(pull_state.checked(self.store, self.res.source).values(), default=None) if state else None
        q, alive = base, None
        if not full and since is not None and self.edit_field is not None:
            self.res.incremental = True
            q = arcgis.edits_where(self.edit_field, since, where)
        self.res.wheres.append(q)
        feats = arcgis.query_features(self.info, q, self.opts, page_size=page_size, **self.kw)
        if self.res.incremental:
            alive = arcgis.object_ids(self.info, base, self.opts, **self.kw)
        served, newest = self.merge(state, feats, alive)
        self.res.fetched, self.res.features = len(feats), len(state)
        if not (self.res.changed or self.res.deleted):
            log.info("%s: no change since the last pull", self.res.url)
            return
        self.store_version(state, served, newest, imp)

    def merge(
        self, state: dict[str, bytes], feats: list[dict], alive: set[str] | None
    ) -> tuple[dict[str, dict], int | None]:
        """Merge fetched features into ``state`` (in place); the served ones by id and the newest change's edit (s).

        The version's time is the newest edit among features that changed: a deletion alone, or a layer
        without edit dates, leaves it None (then now).
        """
        oid_field = self.info.object_id_field
        before = set(state)
        served: dict[str, dict] = {}
        newest = None
        no_id = 0
        for feat in feats:
            oid = arcgis.object_id(feat, oid_field)
            if oid is None:
                no_id += 1
                continue
            props = feat.get("properties") or {}
            # the stored state is keyed by the object-id attribute: keep it even where a server gives only "id"
            feat["properties"] = {oid_field: oid, **props}
            h = arcgis.feature_hash(feat, self.mapping)
            state[oid], served[oid], old = h, feat, state.get(oid)
            if old == h:
                continue
            self.res.changed += 1
            edited = (feat.get("properties") or {}).get(self.edit_field) if self.edit_field else None
            if isinstance(edited, (int, float)):
                newest = max(newest or 0, int(edited // 1000))  # ArcGIS dates are epoch milliseconds
        if no_id:
            log.warning("%s: %d features without an object id (%s) ignored", self.res.url, no_id, oid_field)
        gone = (before - set(served)) if alive is None else (set(state) - alive)
        for oid in gone:
            state.pop(oid, None)
        self.res.deleted = len(gone)
        return served, newest

    def store_version(
        self, state: dict[str, bytes], served: dict[str, dict], newest: int | None, imp: Importer
    ) -> None:
        """Import the merged state as one version and remember the newest edit date."""
        t = newest if newest is not None else int(self.now())
        if self.latest is not None:
            # an edit date behind the stored state's time (server and local clocks differ, or an edit in the
            # same second) still makes the newest version: the latest version is the layer's current state
            t = max(t, self.latest.valid_time + 1)
        snap = arcgis.snapshot(state, served, self.mapping, source=self.res.source, valid_time=t, origin=self.res.url)
        if self.latest is not None and snap.content_hash == self.latest.content_hash:
            # features the importer skips (no geometry) are not in the stored state, yet seen again each time
            log.info("%s: same content as version %s", self.res.url, self.latest.version_id)
            return
        mine = imp.report
        counts = ("new_features", "repaired", "skipped_features", "unclassified")
        before = {k: getattr(mine, k) for k in counts}
        n_problems = len(mine.problems)
        try:
            self.res.status = imp.add(snap)
        except ValueError as exc:
            self.res.status, self.res.error = "failed", f"{self.res.url}: {exc}"
            return
        # a shared importer (watch) keeps its own report: this pull's part of it
        rep = self.res.report
        rep.added, rep.revised, rep.unchanged = (int(self.res.status == s) for s in ("added", "revised", "unchanged"))
        for k in counts:
            setattr(rep, k, getattr(mine, k) - before[k])
        rep.problems = mine.problems[n_problems:]
        self.res.version = snap.version_id
        keep = max(newest or 0, max(pull_state.checked(self.store, self.res.source).values(), default=0))
        pull_state.remember(self.store, self.res.source, snap.version_id, keep or None, snap.content_hash)
        self.store.log_import(f"pull {self.res.url}", self.res.report)
