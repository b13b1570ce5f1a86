"""Crash-safe file writing: whole files replaced atomically, JSONL lines appended whole.

- :func:`atomic_target` writes beside the file (``.<name>.<random>.tmp``), fsyncs it, renames it over
  the file and fsyncs the directory, so after a crash the file is either old or new, never torn.
  A target that already is such a temporary file (an agent's own atomic save called on the path a
  session's atomic save handed it) is written in place: temporary names never nest.
- :func:`append_jsonl` appends one line in one ``write``; if the write fails or is short (disk
  full), the file is cut back to its old size, so a half line is never left behind.
- :func:`remove_stale_temp_files` cleans up after a process that was killed mid-write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")  # what tempfile.mkstemp makes for atomic_target
_active: set[str] = set()  # temporary paths handed out by atomic_target and not yet renamed


class WriteError(OSError):
    """Writing a run's file failed (disk full, read-only, ...); the message names the file."""


def write_error(path: str | os.PathLike[str], exc: BaseException) -> WriteError:
    """A one-line :class:`WriteError` for ``exc``, saying "no space left" for ENOSPC."""
    if isinstance(exc, WriteError):
        return exc
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or (code is None and _disk_full(Path(path).parent)):
        reason = "no space left on device"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = f"not writable ({os.strerror(code)})"
    elif code is not None:
        reason = os.strerror(code)
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    err = WriteError(f"cannot write {path}: {reason}")
    err.errno = code
    return err


def _disk_full(directory: Path) -> bool:
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or a new file in ``path`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On any error the temporary file is removed and ``path`` keeps its old content. Failing writes
    (disk full, read-only) raise :class:`WriteError` naming ``path``.
    """
    final = Path(path)
    if str(final) in _active:  # already a temporary file of an enclosing atomic_target: write it in place
        yield final
        return
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise write_error(final, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    _active.add(tmp_name)
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as fh:  # flush the new content to disk before it becomes visible
                os.fsync(fh.fileno())
            os.chmod(tmp, final.stat().st_mode & 0o777 if final.exists() else 0o644)  # mkstemp makes 0600
            os.replace(tmp, final)
        except OSError as exc:
            raise write_error(final, exc) from None
        except RuntimeError as exc:  # torch.save reports a failed write as RuntimeError
            if _disk_full(final.parent):
                raise write_error(final, OSError(errno.ENOSPC, "no space")) from None
            raise
        fsync_dir(final.parent)
    finally:
        _active.discard(tmp_name)
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode())


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Make ``dst`` a copy of ``src`` atomically: a hard link where the file system allows, else a copy."""
    dst = Path(dst)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    except OSError as exc:
        raise write_error(dst, exc) from None
    os.close(fd)
    os.unlink(tmp_name)
    try:
        os.link(src, tmp_name)
    except OSError:
        atomic_write_bytes(dst, Path(src).read_bytes())
        return
    try:
        os.replace(tmp_name, dst)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise write_error(dst, exc) from None
    fsync_dir(dst.parent)


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON line with a single ``write``; on failure or a short write cut the file back.

    The line is either wholly in the file or not at all. A failure raises :class:`WriteError`
    naming the file ("no space left on device" when the disk is full).
    """
    line = (json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC if _disk_full(Path(path).parent) else errno.EIO,
                              f"short write: {written} of {len(line)} bytes")
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise write_error(path, exc) from None
    finally:
        os.close(fd)


def remove_stale_temp_files(*directories: str | os.PathLike[str]) -> list[Path]:
    """Delete ``.<name>.<random>.tmp`` files left by writes that a killed process never finished."""
    removed = []
    for directory in directories:
        try:
            entries = list(Path(directory).iterdir())
        except OSError:
            continue
        for p in entries:
            if _TEMP_NAME.match(p.name) and str(p) not in _active and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p)
    return removed


def _row(line: bytes | str, where: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: not a JSON line ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(row, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every JSON object in ``path``; a missing file is empty. A corrupt line raises naming file and line."""
    path = Path(path)
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as fh:  # bytes: a line that is not UTF-8 is a corrupt line like any other
        for number, line in enumerate(fh, start=1):
            if line.strip():
                rows.append(_row(line, f"{path}:{number}"))
    return rows


def read_jsonl_from(path: str | os.PathLike[str], offset: int = 0,
                    limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of the whole lines after byte ``offset`` (at most ``limit``), and the byte offset
    after the last line read: pass it back to read only what was appended since. A partial last line (a
    line being written) is left for the next call; a missing file is empty. A corrupt line raises naming
    the file and the line's byte offset."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return [], offset
    rows: list[dict[str, Any]] = []
    with fh:
        fh.seek(offset)
        while limit is None or len(rows) < limit:
            line = fh.readline()
            if not line.endswith(b"\n"):  # end of file, or a line not yet written whole
                break
            if line.strip():
                rows.append(_row(line, f"{path}: line at byte {offset}"))
            offset += len(line)
    return rows, offset
