import json
import os

import pytest

from ecs_rl import EpisodeRecord, RunError, TrainingRun


def test_create_makes_the_documented_layout(tmp_path):
    run = TrainingRun.create("cartpole", "v1", root=tmp_path)
    assert run.path.parent == tmp_path / "cartpole" / "v1"
    assert (run.path / "checkpoints").is_dir()
    meta = json.loads((run.path / "metadata.json").read_text())
    assert meta["name"] == "cartpole" and meta["version"] == "v1" and meta["run_id"] == run.path.name
    assert meta["total_steps"] == 0 and meta["total_episodes"] == 0 and meta["started"]
    assert run.checkpoint_path(500).name == "step_500.pt"
    assert run.latest_path.name == "latest.pt" and run.best_path.name == "best.pt"


def test_runs_created_in_the_same_second_get_distinct_directories(tmp_path, monkeypatch):
    # the run id is the local time to the second: hold that clock still so all five land in one second
    import time

    import ecs_rl.core.run as run_module

    strftime = time.strftime
    monkeypatch.setattr(run_module.time, "strftime", lambda fmt: strftime(fmt, (2026, 1, 2, 3, 4, 5, 0, 2, -1)))
    runs = [TrainingRun.create("same", "v1", root=tmp_path) for _ in range(5)]
    assert len({r.path for r in runs}) == 5
    # within one second the first is the bare timestamp and the others carry _1, _2, ...
    assert [r.run_id for r in runs] == ["20260102_030405"] + [f"20260102_030405_{k}" for k in range(1, 5)]
    assert all(r.path.name == r.run_id and (r.path / "checkpoints").is_dir() for r in runs)
    assert TrainingRun.find(tmp_path / "same").name == "20260102_030405_4"


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden"])
def test_create_refuses_unsafe_names(tmp_path, name):
    with pytest.raises(ValueError, match="name"):
        TrainingRun.create(name, "v1", root=tmp_path)


def test_resume_accepts_run_version_and_name_directories(tmp_path):
    older = TrainingRun.create("game", "v1", root=tmp_path)
    newer = TrainingRun.create("game", "v1", root=tmp_path)
    assert TrainingRun.resume(older.path).path == older.path
    assert TrainingRun.resume(tmp_path / "game" / "v1").path == newer.path
    assert TrainingRun.resume(tmp_path / "game").path == newer.path
    assert TrainingRun.resume(newer.path).resumed


def test_resume_without_a_run_names_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no run found under .*empty"):
        TrainingRun.resume(tmp_path / "empty")
    with pytest.raises(RunError, match="does not exist"):
        TrainingRun.resume(tmp_path / "missing")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"name": "x", "version": "v1", "run_id": "r", "total_steps": 5}', "missing 'total_episodes'"),
        ('{"name": "x", "version": "v1", "run_id": "r", "total_steps": "5", "total_episodes": 0}', "'total_steps'"),
    ],
)
def test_corrupt_metadata_is_named_and_never_overwritten(tmp_path, content, message):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    meta = run.path / "metadata.json"
    meta.write_text(content)
    with pytest.raises(RunError, match=message) as info:
        TrainingRun.resume(run.path)
    assert str(meta) in str(info.value)
    assert meta.read_text() == content


def test_missing_metadata_is_named(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    (run.path / "metadata.json").unlink()
    (run.path / "train_episodes.jsonl").write_text("")
    with pytest.raises(RunError, match="no run found"):
        TrainingRun.resume(run.path)


def test_prune_keeps_newest_numbered_and_never_latest_or_best(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    for step in (100, 200, 300, 1000, 50):
        run.checkpoint_path(step).write_bytes(b"x")
    run.latest_path.write_bytes(b"l")
    run.best_path.write_bytes(b"b")
    removed = run.prune_checkpoints(2)
    assert sorted(p.name for p in removed) == ["step_100.pt", "step_200.pt", "step_50.pt"]
    assert [s for s, _ in run.numbered_checkpoints()] == [300, 1000]  # numeric, not lexical, order
    assert run.latest_path.exists() and run.best_path.exists()
    run.prune_checkpoints(0)
    assert run.numbered_checkpoints() == []
    with pytest.raises(ValueError, match="keep"):
        run.prune_checkpoints(-1)


def test_logs_config_and_metadata_round_trip(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.write_config({"lr": 1e-3, "hidden": [64, 64]})
    assert run.read_config() == {"lr": 1e-3, "hidden": [64, 64]}
    with pytest.raises(ValueError, match="config.json"):
        run.write_config({"bad": object()})
    run.log_train_episode(EpisodeRecord(3.0, 4), step=4, episode=1, agent_id=2)
    run.log_eval_episode(EpisodeRecord(9.0, 9), step=4)
    assert run.read_train_episodes() == [
        {"episode": 1, "step": 4, "total_reward": 3.0, "length": 4, "status": "terminated", "extras": {}, "agent_id": 2}
    ]
    assert run.read_eval_episodes()[0]["total_reward"] == 9.0
    run.update_metadata(4, 1, best_eval_reward=9.0)
    again = TrainingRun.resume(run.path)
    assert again.metadata["total_steps"] == 4 and again.metadata["best_eval_reward"] == 9.0
    leftovers = [p.name for p in run.path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_failed_write_leaves_the_old_file(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    before = (run.path / "metadata.json").read_text()
    with pytest.raises(ValueError):
        run.update_metadata(1, 1, bad=float("nan"))  # strict JSON refuses NaN mid-write
    assert (run.path / "metadata.json").read_text() == before
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_log_line_is_named(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.train_log_path.write_text('{"episode": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"train_episodes.jsonl:2"):
        run.read_train_episodes()


def test_list_runs_reports_unreadable_ones(tmp_path):
    good = TrainingRun.create("a", "v1", root=tmp_path)
    bad = TrainingRun.create("b", "v1", root=tmp_path)
    (bad.path / "metadata.json").write_text("{")
    found = dict(TrainingRun.list_runs(tmp_path))
    assert found[good.path]["name"] == "a"
    assert isinstance(found[bad.path], RunError)
    with pytest.raises(RunError, match="does not exist"):
        TrainingRun.list_runs(tmp_path / "nowhere")
    assert os.path.isdir(tmp_path / "a" / "v1")


# -- crash safety: whole lines, disk full, torn lines, stale temp files, the lock ---------------------

import errno
import subprocess

from ecs_rl.core import files
from ecs_rl.core.files import WriteError, append_jsonl, atomic_write_json


def test_a_short_or_failed_append_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    append_jsonl(log, {"a": 1})
    before = log.read_bytes()
    real_write = os.write
    monkeypatch.setattr(files.os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    monkeypatch.setattr(files, "_disk_full", lambda directory: True)
    with pytest.raises(WriteError, match=f"cannot write {log}: no space left on device"):
        append_jsonl(log, {"b": 2, "padding": "x" * 100})
    assert log.read_bytes() == before

    def enospc(fd, data):
        real_write(fd, data[:7])  # some bytes land, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", enospc)
    with pytest.raises(WriteError, match="no space left"):
        append_jsonl(log, {"c": 3})
    assert log.read_bytes() == before


@pytest.fixture
def tiny_fs(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", mount], check=True)


def test_a_full_file_system_names_the_file_and_leaves_whole_files(tiny_fs):
    run = TrainingRun.create("game", "v1", root=tiny_fs)
    run.log_train_episode(EpisodeRecord(1.0, 1), step=1, episode=1)
    with pytest.raises(OSError, match="No space left"):  # fill what is left
        with open(tiny_fs / "filler", "wb") as fh:
            for _ in range(1000):
                fh.write(b"\0" * 4096)
                fh.flush()
                os.fsync(fh.fileno())
    log_before, meta_before = run.train_log_path.read_bytes(), (run.path / "metadata.json").read_bytes()
    with pytest.raises(WriteError, match=f"cannot write {run.train_log_path}: no space left on device"):
        for i in range(2, 200):
            run.log_train_episode(EpisodeRecord(1.0, 1, extras={"pad": 1.0}), step=i, episode=i)
    text = run.train_log_path.read_text()
    assert text.endswith("\n") and text.startswith(log_before.decode())
    with pytest.raises(WriteError, match=f"cannot write {run.path / 'metadata.json'}: no space left on device"):
        atomic_write_json(run.path / "metadata.json", {"pad": "x" * 100_000})
    assert (run.path / "metadata.json").read_bytes() == meta_before
    assert not [p for p in run.path.rglob("*.tmp")]


def test_restore_cuts_logs_back_to_the_checkpoint_and_repairs_a_torn_line(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    for i in range(1, 4):
        run.log_train_episode(EpisodeRecord(1.0, 10), step=10 * i, episode=i)
    state = {"total_steps": 30, "total_episodes": 3, "best_eval_reward": None, **run.log_sizes()}
    for i in range(4, 6):
        run.log_train_episode(EpisodeRecord(1.0, 10), step=10 * i, episode=i)
    with open(run.train_log_path, "ab") as fh:
        fh.write(b'{"episode": 6, "st')  # a line torn by a crash
    (run.checkpoints_dir / ".latest.pt.abc123xy.tmp").write_bytes(b"half")
    (run.path / ".metadata.json.q1w2e3r4.tmp").write_bytes(b"{")
    again = TrainingRun.resume(run.path)
    again.acquire_lock()
    notes = again.restore(state)
    assert [r["episode"] for r in again.read_train_episodes()] == [1, 2, 3]
    assert [json.loads(x)["episode"] for x in again.rolled_back_path(again.train_log_path).read_text().splitlines()] \
        == [4, 5]
    assert notes == [
        "removed 2 temporary file(s) of an interrupted write: .metadata.json.q1w2e3r4.tmp, .latest.pt.abc123xy.tmp",
        "2 line(s) of train_episodes.jsonl written after the checkpoint moved to train_episodes.rolled-back.jsonl",
        "repaired train_episodes.jsonl: removed a partial last line (18 bytes) left by an interrupted write",
    ]
    assert json.loads((run.path / "metadata.json").read_text())["total_episodes"] == 3
    assert not [p for p in run.path.rglob("*.tmp")]
    again.release_lock()


def test_a_log_shorter_than_its_checkpoint_is_refused_untouched(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.log_train_episode(EpisodeRecord(1.0, 10), step=10, episode=1)
    with pytest.raises(RunError, match="train_episodes.jsonl is shorter than checkpoint latest.pt says"):
        run.check_restore({"train_log_bytes": 10_000})


def test_one_writer_per_run(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.acquire_lock()
    run.mark_lock_holder()
    other = TrainingRun.resume(run.path)
    with pytest.raises(RunError, match=rf"run {run.path} is in use: process {os.getpid()} is training in it"):
        other.acquire_lock()
    run.release_lock()
    other.acquire_lock()
    assert other.locked
    other.release_lock(undo=True)
    assert run.lock_path.exists()  # not created by `other`: kept
