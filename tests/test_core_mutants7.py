"""Behaviours of ecs_rl.core.files and ecs_rl.core.tensorboard that a mutation run showed unchecked: the
exact bytes and modes files are written with, every write error's reason and the file it names, reads from
an offset with a limit, cleanups racing other processes, and the TensorBoard writer's start and flushing."""

import errno
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from test_core_mutants3 import free_space

from ecs_rl import EpisodeRecord
from ecs_rl.core.files import (WriteError, append_jsonl, atomic_copy, atomic_write_json, fsync_dir, read_jsonl,
                               read_jsonl_from, remove_stale_temp_files, write_error)


@pytest.fixture
def umask_zero():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# write_error ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, reason", [
    (errno.ENOSPC, "no space left on device"),
    (errno.EACCES, f"not writable ({os.strerror(errno.EACCES)})"),
    (errno.EROFS, f"not writable ({os.strerror(errno.EROFS)})"),
    (errno.EPERM, f"not writable ({os.strerror(errno.EPERM)})"),
    (errno.EIO, os.strerror(errno.EIO)),
    (errno.ENOENT, os.strerror(errno.ENOENT)),
])
def test_a_write_error_names_the_file_and_the_reason_of_its_errno(tmp_path, code, reason):
    path = tmp_path / "log.jsonl"
    err = write_error(path, OSError(code, "the system's own words"))
    assert isinstance(err, WriteError) and isinstance(err, OSError)
    assert str(err) == f"cannot write {path}: {reason}"
    assert err.errno == code
    assert write_error(tmp_path / "other", err) is err  # already a WriteError: passed on as it is


def test_a_refused_write_on_a_full_disk_says_not_writable(tmp_path, monkeypatch):
    """The free space decides only for errors without an errno: a permission error stays one."""
    free_space(monkeypatch, tmp_path, 0)
    path = tmp_path / "log.jsonl"
    assert str(write_error(path, OSError(errno.EACCES, "denied"))) == \
        f"cannot write {path}: not writable ({os.strerror(errno.EACCES)})"
    assert str(write_error(path, OSError(errno.EIO, "io"))) == f"cannot write {path}: {os.strerror(errno.EIO)}"
    assert str(write_error(path, RuntimeError("boom"))) == f"cannot write {path}: no space left on device"


# fsync_dir -----------------------------------------------------------------------------------------------

def test_fsync_dir_opens_directories_only_and_never_blocks_or_fails(tmp_path):
    fsync_dir(tmp_path)
    fsync_dir(tmp_path / "missing")  # best effort: nothing to do, no error
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening a FIFO for reading would wait for a writer
    worker = threading.Thread(target=fsync_dir, args=(fifo,), daemon=True)
    worker.start()
    worker.join(3)
    blocked = worker.is_alive()
    if blocked:  # let the waiting open go
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join()
    assert not blocked


def test_fsync_dir_syncs_the_directory_where_os_has_no_o_directory(tmp_path, monkeypatch):
    """Windows has no ``os.O_DIRECTORY``: the directory is opened read-only and synced all the same."""
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.samestat(os.fstat(fd), os.stat(tmp_path)))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    fsync_dir(tmp_path)
    assert synced == [True]


# atomic_write_json ---------------------------------------------------------------------------------------

def test_atomic_write_json_writes_indented_json_with_a_final_newline_and_refuses_nan(tmp_path):
    path = tmp_path / "metadata.json"
    atomic_write_json(path, {"a": 1, "b": [1, 2]})
    assert path.read_bytes() == b'{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}\n'
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
            atomic_write_json(path, {"best": bad})
    assert path.read_bytes() == b'{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


# atomic_copy ---------------------------------------------------------------------------------------------

def test_a_copy_replaces_its_target_by_a_hard_link_or_across_file_systems_by_the_bytes(tmp_path):
    src = tmp_path / "step_10.pt"
    src.write_bytes(b"weights")
    dst = tmp_path / "best.pt"
    dst.write_bytes(b"old")
    atomic_copy(src, dst)
    assert dst.read_bytes() == b"weights" and dst.stat().st_ino == src.stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "step_10.pt"]
    if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev:
        with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
            elsewhere = Path(other) / "latest.pt"
            atomic_copy(src, elsewhere)  # no hard link across file systems: a copy
            assert elsewhere.read_bytes() == b"weights" and elsewhere.stat().st_ino != src.stat().st_ino
            assert [p.name for p in Path(other).iterdir()] == ["latest.pt"]


def test_a_copy_into_a_missing_directory_names_the_target(tmp_path):
    src = tmp_path / "a.pt"
    src.write_bytes(b"weights")
    dst = tmp_path / "nowhere" / "best.pt"
    with pytest.raises(WriteError) as caught:
        atomic_copy(src, dst)
    assert str(caught.value) == f"cannot write {dst}: {os.strerror(errno.ENOENT)}"
    assert caught.value.errno == errno.ENOENT


def test_a_copy_that_cannot_replace_its_target_says_why(tmp_path):
    src = tmp_path / "a.pt"
    src.write_bytes(b"weights")
    target = tmp_path / "latest.pt"
    target.mkdir()
    with pytest.raises(WriteError) as caught:
        atomic_copy(src, target)
    assert str(caught.value) == f"cannot write {target}: {os.strerror(errno.EISDIR)}"


def test_a_copy_whose_temporary_file_another_cleanup_removed_fails_naming_the_target(tmp_path, monkeypatch):
    """Another process's cleanup may delete the linked temporary file before the rename: a WriteError."""
    src = tmp_path / "a.pt"
    src.write_bytes(b"weights")
    dst = tmp_path / "best.pt"
    real_replace = os.replace

    def removed_first(a, b):
        os.unlink(a)
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", removed_first)
    with pytest.raises(WriteError) as caught:
        atomic_copy(src, dst)
    assert str(caught.value) == f"cannot write {dst}: {os.strerror(errno.ENOENT)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]


def test_a_copy_interrupted_before_its_rename_leaves_a_file_the_next_cleanup_removes(tmp_path, monkeypatch):
    src = tmp_path / "a.pt"
    src.write_bytes(b"weights")
    dst = tmp_path / "best.pt"
    dst.write_bytes(b"old")

    def interrupted(a, b):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_copy(src, dst)
    monkeypatch.undo()
    left = [p for p in tmp_path.iterdir() if p.name not in ("a.pt", "best.pt")]
    assert len(left) == 1 and left[0].read_bytes() == b"weights"
    assert left[0].name.startswith(".best.pt.") and left[0].name.endswith(".tmp")
    assert remove_stale_temp_files(tmp_path) == left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "best.pt"] and dst.read_bytes() == b"old"


# append_jsonl --------------------------------------------------------------------------------------------

def test_append_jsonl_writes_compact_lines_to_a_new_file_readable_by_all(tmp_path, umask_zero):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, {"a": 1, "b": [1, 2]})
    append_jsonl(path, {"c": "x"})
    assert path.read_bytes() == b'{"a":1,"b":[1,2]}\n{"c":"x"}\n'
    assert path.stat().st_mode & 0o777 == 0o644
    for bad in (math.nan, -math.inf):
        with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
            append_jsonl(path, {"loss": bad})
    assert read_jsonl(path) == [{"a": 1, "b": [1, 2]}, {"c": "x"}]


def test_append_jsonl_into_a_missing_directory_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "log.jsonl"
    with pytest.raises(WriteError) as caught:
        append_jsonl(path, {"a": 1})
    assert str(caught.value) == f"cannot write {path}: {os.strerror(errno.ENOENT)}"


def test_append_jsonl_to_a_full_device_says_no_space(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    with pytest.raises(WriteError) as caught:  # the write fails and the device cannot be cut back: one error
        append_jsonl("/dev/full", {"a": 1})
    assert str(caught.value) == "cannot write /dev/full: no space left on device"


@pytest.mark.parametrize("free_bytes, reason", [(1 << 30, os.strerror(errno.EIO)), (0, "no space left on device")])
def test_a_short_append_is_cut_back_and_says_why(tmp_path, monkeypatch, free_bytes, reason):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, {"a": 1})
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:3]))
    free_space(monkeypatch, tmp_path, free_bytes)
    with pytest.raises(WriteError) as caught:
        append_jsonl(path, {"b": 2})
    assert str(caught.value) == f"cannot write {path}: {reason}"
    assert path.read_bytes() == b'{"a":1}\n'


# remove_stale_temp_files ---------------------------------------------------------------------------------

def test_a_cleanup_goes_through_every_directory_and_removes_only_stale_temporary_files(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    assert remove_stale_temp_files(second) == []
    stale = second / ".latest.pt.abc123.tmp"
    stale.write_bytes(b"torn")
    keep = [second / "latest.pt", second / ".keep.tmp", second / ".latest.pt.ABC123.TMP"]
    for p in keep:
        p.write_bytes(b"ours")
    (second / ".sub.abcdef.tmp").mkdir()  # a directory with a temporary file's name is not ours either
    assert remove_stale_temp_files(first, second) == [stale]  # a missing directory is skipped, not the end
    assert not stale.exists() and all(p.exists() for p in keep) and (second / ".sub.abcdef.tmp").is_dir()


def test_two_cleanups_racing_for_the_same_file_do_not_fail(tmp_path, monkeypatch):
    taken = tmp_path / ".best.pt.abc123.tmp"
    other = tmp_path / ".latest.pt.xyz789.tmp"
    taken.write_bytes(b"torn")
    other.write_bytes(b"torn")
    real_is_file = Path.is_file

    def removed_meanwhile(p):
        found = real_is_file(p)
        if p == taken and found:
            p.unlink()  # another process's cleanup got there first
        return found

    monkeypatch.setattr(Path, "is_file", removed_meanwhile)
    assert remove_stale_temp_files(tmp_path) == [other]
    assert list(tmp_path.iterdir()) == []


# read_jsonl / read_jsonl_from ----------------------------------------------------------------------------

def test_read_jsonl_numbers_lines_from_one_and_skips_blank_ones(tmp_path):
    log = tmp_path / "log.jsonl"
    assert read_jsonl(log) == []
    log.write_bytes(b'{"a": 1}\n\n{"b": 2}\n')
    assert read_jsonl(str(log)) == [{"a": 1}, {"b": 2}]
    log.write_bytes(b'[1]\n{"a": 1}\n')
    with pytest.raises(ValueError) as caught:
        read_jsonl(log)
    assert str(caught.value) == f"{log}:1: expected a JSON object, got list"
    log.write_bytes(b'{"a": 1}\n\n{"b": \n')
    with pytest.raises(ValueError) as caught:
        read_jsonl(log)
    assert str(caught.value) == f"{log}:3: not a JSON line (Expecting value)"
    log.write_bytes(b'{"a": 1}\n\x80abc\n')
    with pytest.raises(ValueError) as caught:
        read_jsonl(log)
    assert str(caught.value) == (f"{log}:2: not a JSON line "
                                 "('utf-8' codec can't decode byte 0x80 in position 0: invalid start byte)")


def test_read_jsonl_from_reads_whole_lines_after_an_offset_up_to_a_limit(tmp_path):
    log = tmp_path / "log.jsonl"
    assert read_jsonl_from(log, 7) == ([], 7)  # missing: nothing yet, same offset
    log.write_bytes(b'{"a":1}\n\n{"b":2}\n{"c":3}\n{"d":')
    assert read_jsonl_from(log) == ([{"a": 1}, {"b": 2}, {"c": 3}], 25)
    assert read_jsonl_from(str(log), limit=1) == ([{"a": 1}], 8)
    assert read_jsonl_from(log, 8, limit=1) == ([{"b": 2}], 17)  # the blank line is passed over
    assert read_jsonl_from(log, 8, limit=2) == ([{"b": 2}, {"c": 3}], 25)
    assert read_jsonl_from(log, 8, limit=0) == ([], 8)
    assert read_jsonl_from(log, 25) == ([], 25)  # a line being written is left for the next call
    with open(log, "ab") as fh:
        fh.write(b'4}\n')
    assert read_jsonl_from(log, 25) == ([{"d": 4}], 33)
    log.write_bytes(b'{"a":1}\n"x"\n')
    with pytest.raises(ValueError) as caught:
        read_jsonl_from(log)
    assert str(caught.value) == f"{log}: line at byte 8: expected a JSON object, got str"


# TensorBoardLogger ---------------------------------------------------------------------------------------

def test_a_logger_without_tensorboard_installed_says_how_to_install_it(tmp_path, monkeypatch):
    from ecs_rl.core.tensorboard import TensorBoardLogger

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what Python does for a missing package
    with pytest.raises(ImportError) as caught:
        TensorBoardLogger(tmp_path)
    message = str(caught.value)
    assert message.startswith("TensorBoardLogger needs the tensorboard package (")
    assert message.endswith("): pip install 'ecs-rl[tensorboard]'") and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_logger_writes_to_its_directory_every_flush_secs(tmp_path):
    pytest.importorskip("tensorboard")
    from test_tensorboard import scalars

    from ecs_rl.core.tensorboard import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path)
    assert repr(logger) == f"TensorBoardLogger({str(tmp_path)!r})"
    assert logger._writer.flush_secs == 10.0  # the default: pending scalars reach the disk within 10 s
    logger.close()
    quick = TensorBoardLogger(tmp_path / "quick", flush_secs=0.2)
    quick.log_eval_mean(2.5, 7)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "eval/mean_reward" not in scalars(tmp_path / "quick"):
        time.sleep(0.1)
    assert scalars(tmp_path / "quick") == {"eval/mean_reward": [(7, 2.5)]}  # without flush() or close()
    quick.close()


def test_only_finite_real_numbers_become_scalars(tmp_path):
    """An evaluation mean that is a bool, text or None is left out; numpy numbers are written as floats."""
    pytest.importorskip("tensorboard")
    import numpy as np
    from test_tensorboard import scalars

    from ecs_rl.core.tensorboard import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path)
    for step, value in enumerate([True, "n/a", None, np.float32(2.5), np.int64(3)], start=1):
        logger.log_eval_mean(value, step)
    logger.close()
    assert scalars(tmp_path) == {"eval/mean_reward": [(4, 2.5), (5, 3.0)]}
