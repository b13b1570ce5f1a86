"""What the dashboard knows of the runs under its root: the listing ``ecs-rl runs`` prints, and the new lines
of each run's episode logs since a client last asked.

Nothing here joins a path from request text: a run is found by its id in the listing
(``<name>/<version>/<run>``, the directory's place under the root), and its logs by their fixed names.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.files import read_jsonl_from
from ..core.run import CONFIG, EVAL_LOG, LOCK, METADATA, TRAIN_LOG, RunError, TrainingRun

#: a run whose lock names no pid is marked as training if its metadata.json or train log changed this recently
FRESH_SECONDS = 30.0
#: logs a client can read: the URL's last part -> the file in the run directory
LOGS = {"episodes": TRAIN_LOG, "evals": EVAL_LOG}
#: the most lines one response carries (the page asks again while ``more`` is true)
MAX_LINES = 20_000


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _holder_alive(lock: Path) -> bool | None:
    """Whether the pid that the process training in a run wrote into its ``.lock`` is alive (the pid stays
    there after training ends); None when the lock names no pid."""
    try:
        pid = int(lock.read_text(encoding="ascii", errors="replace").strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def describe(root: Path, path: Path, meta: dict[str, Any] | RunError, now: float) -> dict[str, Any]:
    """One row of the runs table (what ``ecs-rl runs`` prints, plus algorithm and the training marker)."""
    run_id = path.relative_to(root).as_posix()
    training = _holder_alive(path / LOCK)
    if training is None:  # no pid to ask (a run written elsewhere): fresh files say it is training
        changed = max((t for t in (_mtime(path / METADATA), _mtime(path / TRAIN_LOG)) if t is not None),
                      default=None)
        training = changed is not None and now - changed < FRESH_SECONDS
    if isinstance(meta, RunError):
        return {"id": run_id, "name": path.parent.parent.name, "version": path.parent.name, "run_id": path.name,
                "error": str(meta), "training": training}
    try:
        config = TrainingRun(path, meta, resumed=True).read_config()
    except (RunError, OSError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    return {
        "id": run_id, "name": meta["name"], "version": meta["version"], "run_id": meta["run_id"],
        "algo": config.get("algo"), "game": config.get("game") if isinstance(config.get("game"), str) else None,
        "steps": meta["total_steps"], "episodes": meta["total_episodes"],
        "best_eval": meta.get("best_eval_reward"), "last_updated": meta.get("last_updated"),
        "training": training,
    }


_TAG = 64  # bytes before a mark that must still be there: a log cut back and written again differs


def _tag(file: Path, offset: int) -> bytes:
    try:
        with open(file, "rb") as fh:
            return os.pread(fh.fileno(), min(_TAG, offset), max(0, offset - _TAG))
    except OSError:
        return b""


@dataclass
class _Tail:
    """Where each line count handed to a client starts in one log file (newest few remembered), with the
    bytes just before it, so a log that a resume cut back and training wrote again is noticed."""

    inode: int
    marks: OrderedDict[int, tuple[int, bytes]] = field(default_factory=lambda: OrderedDict({0: (0, b"")}))


class RunsIndex:
    """The runs under ``root`` (listing cached for ``ttl`` seconds) and the tails of their logs."""

    def __init__(self, root: str | os.PathLike[str], ttl: float = 1.0, marks: int = 256) -> None:
        self.root = Path(root)
        self.ttl = ttl
        self._max_marks = marks
        self._lock = threading.Lock()
        self._listed_at = -float("inf")
        self._rows: list[dict[str, Any]] = []
        self._paths: dict[str, Path] = {}
        self._tails: dict[tuple[str, str], _Tail] = {}

    def runs(self) -> list[dict[str, Any]]:
        """Every run under the root (newest listing at most ``ttl`` seconds old)."""
        with self._lock:
            self._refresh(force=False)
            return list(self._rows)

    def path_of(self, run_id: str) -> Path | None:
        """The directory of the run with this id, or None when the listing has no such run."""
        with self._lock:
            self._refresh(force=False)
            if run_id not in self._paths:  # a run created since the listing: look again once
                self._refresh(force=True)
            return self._paths.get(run_id)

    def _refresh(self, force: bool) -> None:
        if not force and time.monotonic() - self._listed_at < self.ttl:
            return
        found = TrainingRun.list_runs(self.root)
        now = time.time()
        self._rows = [describe(self.root, path, meta, now) for path, meta in found]
        self._paths = {row["id"]: path for row, (path, _) in zip(self._rows, found)}
        self._tails = {k: v for k, v in self._tails.items() if k[0] in self._paths}  # deleted runs
        self._listed_at = time.monotonic()

    def lines(self, run_id: str, log: str, after: int, limit: int = MAX_LINES) -> dict[str, Any] | None:
        """The lines of a run's log after the first ``after``: ``{"rows", "next", "more", "reset"}``; None
        for an unknown run. ``next`` is the count to ask after next time; ``reset`` says the log no longer
        has ``after`` lines (a resume cut it back): start again from 0. A partial last line waits."""
        path = self.path_of(run_id)
        if path is None:
            return None
        file = path / LOGS[log]
        key = (run_id, log)
        with self._lock:
            try:
                st = file.stat()
            except FileNotFoundError:
                self._tails.pop(key, None)
                if after:
                    return {"rows": [], "next": 0, "more": False, "reset": True}
                return {"rows": [], "next": 0, "more": False, "reset": False}
            tail = self._tails.get(key)
            if tail is None or tail.inode != st.st_ino:
                tail = self._tails[key] = _Tail(st.st_ino)
            mark = tail.marks.get(after)
        if mark is not None and (mark[0] > st.st_size or _tag(file, mark[0]) != mark[1]):  # cut back
            with self._lock:
                self._tails[key] = _Tail(st.st_ino)
            return {"rows": [], "next": 0, "more": False, "reset": True}
        offset = mark[0] if mark is not None else self._seek(file, tail, after)
        if offset is None:  # fewer lines than the client has: the log was cut back
            return {"rows": [], "next": 0, "more": False, "reset": True}
        rows, end = read_jsonl_from(file, offset, limit)
        nxt = after + len(rows)
        with self._lock:
            tail.marks[nxt] = (end, _tag(file, end))
            tail.marks.move_to_end(nxt)
            while len(tail.marks) > self._max_marks:
                tail.marks.popitem(last=False)
            tail.marks.setdefault(0, (0, b""))
        return {"rows": rows, "next": nxt, "more": len(rows) == limit, "reset": False}

    def _seek(self, file: Path, tail: _Tail, after: int) -> int | None:
        """The byte offset after the first ``after`` lines (from the nearest mark below), or None."""
        with self._lock:
            count, offset = max(((c, m[0]) for c, m in tail.marks.items() if c <= after), default=(0, 0))
        while count < after:
            rows, offset = read_jsonl_from(file, offset, min(MAX_LINES, after - count))
            if not rows:
                return None
            count += len(rows)
        return offset
