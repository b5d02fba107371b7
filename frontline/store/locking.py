"""The writer lock of a store file: one writing transaction at a time, across processes, named by pid.

SQLite already lets one writer in at a time, but a second writer only waits
for its busy time-out and then fails, and it cannot say who it waits for.
This lock, an advisory ``flock`` on ``<store>-writer.lock`` taken around
every write transaction, makes writers queue for as long as it takes, with a
line on stderr naming the holder's pid. The kernel drops the lock of a
process that dies (SIGKILL included), so a killed writer never blocks the
next one. The lock file is open only while the lock is held, so worker
processes forked between transactions never inherit it.

Threads of one process share one lock per store file (re-entrant in the
thread that holds it), so two handles on the same store in one process queue
like two processes do.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

try:  # POSIX; elsewhere SQLite's own busy wait is all there is
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Seconds a writer waits before it says so on stderr (writers taking turns version by version wait less).
NOTICE_AFTER_S = 1.0
#: Seconds between two tries of a held lock.
POLL_S = 0.05
_PID_WIDTH = 12  # the holder's pid, space-padded


def lock_path(store_path: Path) -> Path:
    """The lock file of a store: ``<name>-writer.lock`` beside it (as SQLite's ``-wal`` and ``-shm``)."""
    return store_path.with_name(store_path.name + "-writer.lock")


class _FileLock:
    """The lock of one store file in this process: a thread lock, a depth and the open lock file."""

    def __init__(self, path: Path):
        self.path = path
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None


_LOCKS: dict[str, _FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def _forget_in_child() -> None:
    """A forked child starts with no lock: its copy of a held lock file is closed, not unlocked (the parent's)."""
    global _LOCKS_GUARD
    for lk in _LOCKS.values():
        if lk.fd is not None:
            os.close(lk.fd)
    _LOCKS.clear()
    _LOCKS_GUARD = threading.Lock()  # another thread of the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _lock_of(store_path: Path) -> _FileLock:
    key = os.path.realpath(store_path)
    with _LOCKS_GUARD:
        if key not in _LOCKS:
            _LOCKS[key] = _FileLock(lock_path(Path(key)))
        return _LOCKS[key]


def holder_pid(store_path: Path) -> int | None:
    """The pid written by the writer that holds (or last held) the lock, if any."""
    try:
        text = lock_path(Path(store_path)).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _say_waiting(store_path: Path, pid: int | None) -> None:
    who = f"pid {pid}" if pid else "pid unknown"
    print(f"frontline: waiting for another writer ({who}) on {store_path}", file=sys.stderr, flush=True)


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError:  # a folder this user cannot write: SQLite's busy wait is left
        return None


def _take(fd: int, store_path: Path) -> None:
    """Block until ``fd`` holds the lock, saying once per holder that this writer waits."""
    assert fcntl is not None
    started = time.monotonic()
    told: set[int | None] = set()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() - started >= NOTICE_AFTER_S:
            pid = holder_pid(store_path)
            if pid not in told:
                told.add(pid)
                _say_waiting(store_path, pid)
        time.sleep(POLL_S)


def acquire(store_path: Path) -> None:
    """Take the writer lock of a store (waiting for other writers); re-entrant within a thread.

    Parameters
    ----------
    store_path
        The store file.
    """
    lk = _lock_of(store_path)
    lk.thread_lock.acquire()
    lk.depth += 1
    if lk.depth > 1 or fcntl is None:
        return
    try:
        fd = _open(lk.path)
        if fd is not None:
            _take(fd, Path(store_path))
            # fixed width in place: truncating costs milliseconds (a journal write) on every transaction
            os.pwrite(fd, f"{os.getpid():<{_PID_WIDTH}}".encode(), 0)
        lk.fd = fd
    except BaseException:  # interrupted while waiting: leave nothing held
        if "fd" in locals() and fd is not None:
            os.close(fd)
        lk.depth -= 1
        lk.thread_lock.release()
        raise


def release(store_path: Path) -> None:
    """Give back the writer lock taken by :func:`acquire` in this thread."""
    lk = _lock_of(store_path)
    lk.depth -= 1
    if lk.depth == 0 and lk.fd is not None:
        fd, lk.fd = lk.fd, None
        try:
            assert fcntl is not None
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    lk.thread_lock.release()
