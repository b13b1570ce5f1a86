"""A training run's directory: metadata, config, JSONL episode logs and checkpoints.

Layout::

    <root>/<name>/<version>/<YYYYMMDD_HHMMSS>[_<k>]/
        metadata.json  config.json  train_episodes.jsonl  eval_episodes.jsonl
        checkpoints/step_<N>.pt  latest.pt  best.pt
        .lock                                    # held (flock) by the one process training in the run
        train_episodes.rolled-back.jsonl         # episodes logged after the checkpoint a resume went back to
        eval_episodes.rolled-back.jsonl
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .files import append_jsonl, atomic_write_json, read_jsonl, remove_stale_temp_files
from .types import EpisodeRecord

METADATA = "metadata.json"
CONFIG = "config.json"
TRAIN_LOG = "train_episodes.jsonl"
EVAL_LOG = "eval_episodes.jsonl"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")
_REQUIRED = {"name": str, "version": str, "run_id": str, "total_steps": int, "total_episodes": int}
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class RunError(ValueError):
    """A run directory or one of its files is missing or unreadable."""


class RunLockedError(RunError):
    """Another process is training in the run."""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_part(value: str, argument: str) -> str:
    if not isinstance(value, str) or not _SAFE_PART.match(value):
        raise ValueError(
            f"{argument} must be a non-empty name of letters, digits, '.', '_', '+' or '-' "
            f"(no path separators), got {value!r}"
        )
    return value


def read_metadata(path: Path) -> dict[str, Any]:
    """Parse and check a ``metadata.json``; raise ``RunError`` naming the file on any defect."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{path} does not exist: not a run directory") from None
    except OSError as exc:
        raise RunError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is corrupt: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} is corrupt: expected a JSON object")
    for key, kind in _REQUIRED.items():
        if key not in data:
            raise RunError(f"{path} is corrupt: missing {key!r}")
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            raise RunError(f"{path} is corrupt: {key!r} should be {kind.__name__}, got {data[key]!r}")
    if data["total_steps"] < 0 or data["total_episodes"] < 0:
        raise RunError(f"{path} is corrupt: negative counts")
    return data


class TrainingRun:
    """Owns one run directory. Make one with ``create`` or ``resume``.

    Args:
        path: the run directory.
        metadata: the contents of its ``metadata.json``.
        resumed: whether the run was reopened (``resume``) rather than created.
    """

    def __init__(self, path: Path, metadata: dict[str, Any], resumed: bool) -> None:
        self.path = path
        self.metadata = metadata
        self.resumed = resumed
        self._lock_fd: int | None = None
        self._lock_created = False

    # -- making and finding runs -------------------------------------------------------------

    @classmethod
    def create(cls, name: str, version: str = "v1", root: str | os.PathLike[str] = "runs") -> "TrainingRun":
        """Make ``<root>/<name>/<version>/<timestamp>/``; runs started in the same second get ``_1``, ``_2``..."""
        _check_part(name, "name")
        _check_part(version, "version")
        parent = Path(root) / name / version
        parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d_%H%M%S")
        for k in range(10_000):
            run_id = stamp if k == 0 else f"{stamp}_{k}"
            try:
                (parent / run_id).mkdir()  # exclusive: a concurrent creator gets FileExistsError
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - ten thousand runs in one second
            raise RunError(f"could not find a free run directory under {parent}")
        path = parent / run_id
        (path / CHECKPOINTS).mkdir()
        now = _now_iso()
        metadata = {
            "name": name,
            "version": version,
            "run_id": run_id,
            "total_steps": 0,
            "total_episodes": 0,
            "best_eval_reward": None,
            "started": now,
            "last_updated": now,
        }
        atomic_write_json(path / METADATA, metadata)
        return cls(path, metadata, resumed=False)

    @staticmethod
    def find(path: str | os.PathLike[str]) -> Path:
        """The run directory that ``path`` names: a run, or the newest run under a version or name directory."""
        path = Path(path)
        if not path.exists():
            raise RunError(f"{path} does not exist")
        if not path.is_dir():
            raise RunError(f"{path} is not a directory")
        if (path / METADATA).exists():
            return path
        runs = [p.parent for p in path.glob(f"*/{METADATA}")] or [p.parent for p in path.glob(f"*/*/{METADATA}")]
        if not runs:
            raise RunError(f"no run found under {path} (no {METADATA} one or two levels down)")
        # run ids are timestamps (with _k for same-second runs): newest sorts last
        return max(runs, key=lambda p: (_run_sort_key(p.name), str(p)))

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> "TrainingRun":
        """Reopen a run for appending. Nothing is written here, so a corrupt file stays as it was.

        Args:
            path: a run directory, or a version or name directory (its newest run).
        """
        run_dir = cls.find(path)
        metadata = read_metadata(run_dir / METADATA)
        (run_dir / CHECKPOINTS).mkdir(exist_ok=True)
        return cls(run_dir, metadata, resumed=True)

    @staticmethod
    def list_runs(root: str | os.PathLike[str] = "runs") -> list[tuple[Path, dict[str, Any] | RunError]]:
        """Every run directory under ``root`` (``<name>/<version>/<run>``) with its metadata or its error."""
        root = Path(root)
        if not root.is_dir():
            raise RunError(f"runs root {root} does not exist or is not a directory")
        found: list[tuple[Path, dict[str, Any] | RunError]] = []
        for meta in sorted(root.glob(f"*/*/*/{METADATA}")):
            try:
                found.append((meta.parent, read_metadata(meta)))
            except RunError as exc:
                found.append((meta.parent, exc))
        return found

    # -- names --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The run's name (``runs/<name>/...``), e.g. the game."""
        return self.metadata["name"]

    @property
    def version(self) -> str:
        """The run's version (``runs/<name>/<version>/...``), e.g. the algorithm."""
        return self.metadata["version"]

    @property
    def run_id(self) -> str:
        """The run's directory name: its start time ``YYYYMMDD_HHMMSS`` (``_k`` for same-second runs)."""
        return self.metadata["run_id"]

    @property
    def checkpoints_dir(self) -> Path:
        """``<run>/checkpoints/``."""
        return self.path / CHECKPOINTS

    def checkpoint_path(self, step: int) -> Path:
        """The path of the numbered checkpoint ``checkpoints/step_<step>.pt``.

        Args:
            step: the session's step count when it is saved.
        """
        return self.checkpoints_dir / f"step_{int(step)}.pt"

    @property
    def latest_path(self) -> Path:
        """``checkpoints/latest.pt``: the resume point, replaced at every checkpoint."""
        return self.checkpoints_dir / "latest.pt"

    @property
    def best_path(self) -> Path:
        """``checkpoints/best.pt``: the agent at its best evaluation so far."""
        return self.checkpoints_dir / "best.pt"

    @property
    def train_log_path(self) -> Path:
        """``train_episodes.jsonl``: one line per training episode."""
        return self.path / TRAIN_LOG

    @property
    def eval_log_path(self) -> Path:
        """``eval_episodes.jsonl``: one line per evaluation episode."""
        return self.path / EVAL_LOG

    def numbered_checkpoints(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every ``step_<N>.pt``, oldest first."""
        found = []
        for p in self.checkpoints_dir.iterdir():
            m = _STEP_FILE.match(p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    # -- writing ------------------------------------------------------------------------------

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Store hyper-parameters (anything JSON can hold) as ``config.json``."""
        try:
            atomic_write_json(self.path / CONFIG, dict(config))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"config for {self.path / CONFIG} is not JSON-serialisable: {exc}") from None

    def read_config(self) -> dict[str, Any]:
        """``config.json`` as a dict (empty when the run has none); ``RunError`` if it is corrupt."""
        path = self.path / CONFIG
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunError(f"{path} is corrupt: not valid JSON ({exc})") from None

    def prune_checkpoints(self, keep: int) -> list[Path]:
        """Delete all but the newest ``keep`` numbered checkpoints; ``latest`` and ``best`` are never touched."""
        if keep < 0:
            raise ValueError(f"keep must be >= 0, got {keep}")
        numbered = self.numbered_checkpoints()
        doomed = [p for _, p in numbered[: max(0, len(numbered) - keep)]]
        for p in doomed:
            p.unlink(missing_ok=True)
            p.with_name(p.name + ".session.json").unlink(missing_ok=True)  # an agent's session sidecar
        return doomed

    def log_train_episode(self, record: EpisodeRecord, step: int, episode: int, **fields: Any) -> None:
        """Append one training episode to ``train_episodes.jsonl`` (one line, one write).

        Args:
            record: the episode.
            step: the session's step count when it ended.
            episode: its number in the run.
            **fields: more JSON fields for the line (``agent_id``, ``entity``, ...).
        """
        append_jsonl(self.train_log_path, {"episode": episode, "step": step, **record.to_json(), **fields})

    def log_eval_episode(self, record: EpisodeRecord, step: int, **fields: Any) -> None:
        """Append one evaluation episode to ``eval_episodes.jsonl``.

        Args:
            record: the episode.
            step: the session's step count at the evaluation.
            **fields: more JSON fields for the line.
        """
        append_jsonl(self.eval_log_path, {"step": step, **record.to_json(), **fields})

    def read_train_episodes(self) -> list[dict[str, Any]]:
        """Every line of ``train_episodes.jsonl``, as dicts, oldest first."""
        return read_jsonl(self.train_log_path)

    def read_eval_episodes(self) -> list[dict[str, Any]]:
        """Every line of ``eval_episodes.jsonl``, as dicts, oldest first."""
        return read_jsonl(self.eval_log_path)

    def update_metadata(self, total_steps: int, total_episodes: int, **fields: Any) -> None:
        """Record progress (and any extra JSON fields) in ``metadata.json``, replaced atomically.

        Args:
            total_steps: the session's step count.
            total_episodes: the session's episode count.
            **fields: more JSON fields to record.
        """
        metadata = {**self.metadata, **fields, "total_steps": int(total_steps),
                    "total_episodes": int(total_episodes), "last_updated": _now_iso()}
        atomic_write_json(self.path / METADATA, metadata)
        self.metadata = metadata

    # -- one writer ---------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        """``<run>/.lock``: the file a training process holds an OS lock on (one writer per run)."""
        return self.path / LOCK

    @property
    def locked(self) -> bool:
        """Whether this object holds the run's writer lock."""
        return self._lock_fd is not None

    def check_writable(self) -> None:
        """Refuse a run whose directory (or checkpoints directory) this process cannot write."""
        for d in (self.path, self.checkpoints_dir):
            if d.is_dir() and not os.access(d, os.W_OK):
                raise RunError(f"run {self.path} is read-only: cannot write in {d}")

    def acquire_lock(self) -> None:
        """Take the run's writer lock (``flock`` on ``.lock``; the OS drops it when the process dies).

        Raises ``RunLockedError`` naming the holder's pid when another process trains in the run.
        Nothing is written here: ``mark_lock_holder`` records the pid once the run is really used.
        """
        if self._lock_fd is not None:
            return
        self.check_writable()
        existed = self.lock_path.exists()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(f"run {self.path} cannot be locked: {self.lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunLockedError(f"run {self.path} is in use: process {holder} is training in it "
                                     f"(lock {self.lock_path})") from None
            raise RunError(f"run {self.path} cannot be locked: {exc.strerror}") from None
        self._lock_fd, self._lock_created = fd, not existed

    def mark_lock_holder(self) -> None:
        """Write this process's pid into the lock file (shown to a second process that is refused)."""
        if self._lock_fd is None:
            raise RuntimeError("mark_lock_holder() needs acquire_lock() first")
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_created = False

    def release_lock(self, undo: bool = False) -> None:
        """Drop the lock; ``undo`` also removes a lock file this object created (a failed open leaves no trace)."""
        if self._lock_fd is None:
            return
        if undo and self._lock_created:
            with contextlib.suppress(OSError):
                self.lock_path.unlink()
        os.close(self._lock_fd)
        self._lock_fd, self._lock_created = None, False

    # -- going back to a checkpoint -----------------------------------------------------------

    def log_sizes(self) -> dict[str, int]:
        """Bytes in each episode log now (a checkpoint records them, so a resume can cut what came after)."""
        return {"train_log_bytes": _size(self.train_log_path), "eval_log_bytes": _size(self.eval_log_path)}

    def rolled_back_path(self, log: Path) -> Path:
        """Where a resume moves the lines of ``log`` written after the checkpoint it resumes from.

        Args:
            log: ``train_episodes.jsonl`` or ``eval_episodes.jsonl`` (gives ``*.rolled-back.jsonl``).
        """
        return log.with_name(log.name.replace(".jsonl", ".rolled-back.jsonl"))

    def check_restore(self, state: Mapping[str, Any] | None) -> None:
        """Raise ``RunError`` if the logs cannot be brought back to ``state`` (nothing is changed)."""
        if state is None:
            return
        for key, log in (("train_log_bytes", self.train_log_path), ("eval_log_bytes", self.eval_log_path)):
            want = state.get(key)
            if want is None:
                continue
            have = _size(log)
            if have < int(want):
                raise RunError(f"{log} is shorter than checkpoint {self.latest_path.name} says "
                               f"({have} < {int(want)} bytes): the log lost lines")

    def restore(self, state: Mapping[str, Any] | None) -> list[str]:
        """Bring the run's files back to a checkpoint's session ``state`` (``None``: no checkpoint yet).

        Removes temporary files of killed writes; moves log lines written after the checkpoint to
        ``*.rolled-back.jsonl``; drops a trailing partial line; rewrites ``metadata.json`` with the
        checkpoint's counts. Returns what it did, one sentence each. Needs the lock.
        """
        if self._lock_fd is None:
            raise RuntimeError("restore() needs acquire_lock() first")
        self.check_restore(state)
        notes: list[str] = []
        stale = remove_stale_temp_files(self.path, self.checkpoints_dir)
        if stale:
            notes.append(f"removed {len(stale)} temporary file(s) of an interrupted write: "
                         + ", ".join(p.name for p in stale))
        if state is not None and "train_log_bytes" not in state:  # a checkpoint without session state
            for log in (self.train_log_path, self.eval_log_path):
                notes += self._cut(log, None)
            return notes
        state = state or {}
        for key, log in (("train_log_bytes", self.train_log_path), ("eval_log_bytes", self.eval_log_path)):
            notes += self._cut(log, int(state.get(key, 0)))
        best = state.get("best_eval_reward")
        self.update_metadata(int(state.get("total_steps", 0)), int(state.get("total_episodes", 0)),
                             best_eval_reward=best, checkpoint_step=state.get("total_steps"))
        return notes

    def _cut(self, log: Path, keep: int | None) -> list[str]:
        """Cut ``log`` to ``keep`` bytes (``None``: to its last whole line); whole lines cut go aside."""
        size = _size(log)
        if keep is None:
            keep = size
        if size == 0 or (keep == size and _ends_with_newline(log)):
            return []
        with open(log, "rb+") as fh:
            fh.seek(keep)
            tail = fh.read()
            whole, _, partial = tail.rpartition(b"\n")
            if keep == size:  # only a partial last line to cut
                whole, partial = b"", tail
                fh.seek(0)
                body = fh.read()
                cut_at = body.rfind(b"\n") + 1
                partial = body[cut_at:]
                keep = cut_at
            notes = []
            if whole:  # aside first: a crash before the cut leaves the lines in both files, never in neither
                aside = self.rolled_back_path(log)
                with open(aside, "ab") as out:
                    out.write(whole + b"\n")
                    os.fsync(out.fileno())
                n = whole.count(b"\n") + 1
                notes.append(f"{n} line(s) of {log.name} written after the checkpoint moved to {aside.name}")
            fh.truncate(keep)
            os.fsync(fh.fileno())
        if partial:
            notes.append(f"repaired {log.name}: removed a partial last line ({len(partial)} bytes) "
                         "left by an interrupted write")
        return notes

    def __repr__(self) -> str:
        return f"TrainingRun({str(self.path)!r})"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _run_sort_key(run_id: str) -> tuple[str, int]:
    """Order run ids ``YYYYMMDD_HHMMSS[_k]`` by time, then by same-second suffix ``k``."""
    parts = run_id.split("_")
    if len(parts) >= 2:
        suffix = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
        return f"{parts[0]}_{parts[1]}", suffix
    return run_id, 0
