"""Read the members of a folder, a single file or a .tar/.tar.gz/.tar.zst archive.

Yields ``(name, bytes)`` pairs in archive order without unpacking to disk, so a
1,359-file archive streams through memory once.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".tzst")


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def count_members(path: Path, suffixes: tuple[str, ...]) -> int | None:
    """Number of matching files (for a progress bar); None when costly to know."""
    if path.is_dir():
        return sum(1 for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))
    if path.is_file() and not is_archive(path):
        return 1
    return None


def iter_members(path: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes | Exception]]:
    """Yield ``(name, content)`` for each file ending in one of ``suffixes``.

    A member that cannot be read yields the exception instead of bytes, so the
    caller can report it by name and go on with the rest.
    """
    path = Path(path)
    if path.is_dir():
        for p in sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes)):
            try:
                yield str(p), p.read_bytes()
            except OSError as exc:
                yield str(p), exc
        return
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder.")
    if not is_archive(path):
        yield str(path), path.read_bytes()
        return
    lower = path.name.lower()
    if lower.endswith((".tar.zst", ".tar.zstd", ".tzst")):
        import zstandard

        with path.open("rb") as fh:
            reader = zstandard.ZstdDecompressor().stream_reader(fh)
            yield from _iter_tar(tarfile.open(fileobj=reader, mode="r|"), path, suffixes)
    else:
        yield from _iter_tar(tarfile.open(path, mode="r|*"), path, suffixes)


def _iter_tar(tf: tarfile.TarFile, path: Path, suffixes) -> Iterator[tuple[str, bytes | Exception]]:
    try:
        while True:
            try:
                member = tf.next()
            except (tarfile.TarError, OSError, EOFError) as exc:
                yield f"{path}", ValueError(f"archive is damaged after the last good member: {exc}")
                return
            if member is None:
                return
            if not member.isfile() or not member.name.lower().endswith(suffixes):
                continue
            try:
                fh = tf.extractfile(member)
                data = fh.read() if fh is not None else b""
            except (tarfile.TarError, OSError, EOFError) as exc:
                yield f"{path}:{member.name}", exc
                return
            yield f"{path}:{member.name}", data
    finally:
        tf.close()
