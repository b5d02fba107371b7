"""The batch engine: per-version work run on a local process pool or on a Dask cluster.

Both back-ends implement one small interface (:class:`Backend`):
``submit(fn, *args)`` returns a future, ``as_completed(futures)`` yields them
as they finish, ``close()`` ends the pool or the connection. The work
shipped is a module-level function and plain arguments (the store's *path*,
never an open store): each worker opens the store read-only itself
(:func:`worker_store`), so on a real cluster the path must be one every
worker can read (a shared file system) or a server store. The caller keeps
the writes.

:func:`open_backend` picks the back-end: a Dask scheduler address
(``tcp://HOST:PORT``, or ``$FRONTLINE_SCHEDULER``) selects
:class:`DaskBackend` (needs ``pip install 'frontline[cluster]'``: Dask
distributed), anything else :class:`LocalBackend`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ..errors import InputError

__all__ = [
    "SCHEDULER_ENV",
    "Backend",
    "LocalBackend",
    "DaskBackend",
    "open_backend",
    "scheduler_address",
    "worker_store",
]

#: The environment variable naming a Dask scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "FRONTLINE_SCHEDULER"

#: Seconds to wait for a scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10


class Backend(Protocol):
    """What the batch engine needs of a pool of workers."""

    workers: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a worker; a future with ``result()``."""

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures, each as soon as it is done."""

    def close(self) -> None:
        """End the pool (or the connection to the cluster)."""


class LocalBackend:
    """Worker processes on this machine (forked: they inherit what the parent loaded).

    Parameters
    ----------
    workers
        Worker processes.
    """

    def __init__(self, workers: int):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker process."""
        return self._pool.submit(fn, *args)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures, each as soon as it is done."""
        from concurrent.futures import as_completed

        return as_completed(list(futures))

    def close(self) -> None:
        """Wait for the workers and end them."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """The workers of a Dask distributed cluster, reached through its scheduler.

    Parameters
    ----------
    address
        The scheduler (``tcp://HOST:PORT``).

    Raises
    ------
    InputError
        When Dask distributed is not installed or the scheduler cannot be reached.
    """

    def __init__(self, address: str):
        try:
            import distributed
        except ImportError:
            raise InputError(
                "Dask distributed is not installed: pip install 'frontline[cluster]' (or 'dask[distributed]').",
                field="--scheduler",
            ) from None
        self._distributed = distributed
        try:
            self._client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"The Dask scheduler at {address} cannot be reached ({type(exc).__name__}: {exc}).",
                field="--scheduler",
            ) from None
        self.workers = max(1, sum(self._client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a worker of the cluster (never cached: ``pure=False``)."""
        return self._client.submit(fn, *args, pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures, each as soon as it is done."""
        futures = list(futures)
        with self._client.as_current():  # as_completed finds its client as the current one
            done = self._distributed.as_completed(futures)
        yield from done

    def close(self) -> None:
        """Close the connection (the cluster stays up)."""
        self._client.close()


def scheduler_address(scheduler: str | None) -> str | None:
    """The Dask scheduler to use: ``scheduler``, else ``$FRONTLINE_SCHEDULER``, else None (local pool)."""
    address = (scheduler or os.environ.get(SCHEDULER_ENV) or "").strip()
    return address or None


def open_backend(workers: int, scheduler: str | None = None) -> Backend:
    """A back-end: the Dask cluster at ``scheduler`` when given (or in ``$FRONTLINE_SCHEDULER``), else a local pool.

    Parameters
    ----------
    workers
        Local worker processes (not used with a scheduler: the cluster has its own).
    scheduler
        A Dask scheduler address.

    Returns
    -------
    Backend
    """
    address = scheduler_address(scheduler)
    if address is not None:
        return DaskBackend(address)
    return LocalBackend(workers)


_STORES: dict[str, Any] = {}


def worker_store(path: str):
    """The store at ``path`` opened read-only, once per worker process (kept for the next task)."""
    st = _STORES.get(path)
    if st is None:
        from ..store import open_store

        st = _STORES[path] = open_store(path, readonly=True)
    return st
