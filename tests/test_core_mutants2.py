"""Core behaviours that mutation testing found unchecked: random actions for non-Discrete spaces in a batch,
a copy across file systems, temporary files in use surviving a cleanup, write errors' reasons, the default
runs root, and the checkpoint's own best score kept on a resume's tie."""

import json
import os
import tempfile

import gymnasium as gym
import numpy as np
import pytest
from test_session_mutants import resumed, trained_run

from ecs_rl import RandomAgent, TrainingRun
from ecs_rl.core.files import atomic_copy, atomic_target, remove_stale_temp_files, write_error


@pytest.mark.parametrize("space", [gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
                                   gym.spaces.MultiDiscrete([3, 4])])
def test_random_act_batch_draws_one_action_per_observation_for_any_space(space):
    actions = RandomAgent(space, seed=3).act_batch(np.zeros((5, 2), dtype=np.float32))
    assert actions.shape == (5, 2)
    assert all(space.contains(a.astype(space.dtype)) for a in actions)
    assert len({tuple(a) for a in actions}) > 1  # five separate draws, not one repeated


def test_atomic_copy_across_file_systems_copies_the_bytes(tmp_path):
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second file system (/dev/shm) for a hard link to fail")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        src = os.path.join(other, "a.pt")
        with open(src, "wb") as fh:
            fh.write(b"weights")
        dst = tmp_path / "best.pt"
        dst.write_bytes(b"old")
        atomic_copy(src, dst)  # os.link fails with EXDEV: the bytes are copied instead
        assert dst.read_bytes() == b"weights"
        assert os.stat(dst).st_ino != os.stat(src).st_ino
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_a_cleanup_removes_stale_temporary_files_but_not_one_being_written(tmp_path):
    stale = tmp_path / ".latest.pt.abc123.tmp"
    stale.write_bytes(b"torn")
    with atomic_target(tmp_path / "best.pt") as tmp:
        tmp.write_bytes(b"new")
        assert remove_stale_temp_files(tmp_path) == [stale]
        assert tmp.read_bytes() == b"new"
    assert (tmp_path / "best.pt").read_bytes() == b"new" and not stale.exists()


@pytest.mark.parametrize("exc, reason", [(RuntimeError("writer broke\nsecond line"), "writer broke"),
                                         (ValueError(""), "ValueError")])
def test_a_write_error_without_an_errno_gives_the_first_line_of_the_error_or_its_type(tmp_path, exc, reason):
    err = write_error(tmp_path / "log.jsonl", exc)
    assert str(err) == f"cannot write {tmp_path / 'log.jsonl'}: {reason}"
    assert err.errno is None


def test_list_runs_defaults_to_the_runs_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = TrainingRun.create("game", "v1", root="runs")
    ((path, metadata),) = TrainingRun.list_runs()
    assert path.resolve() == run.path.resolve() and metadata["name"] == "game"


def test_a_resume_tied_between_checkpoint_and_metadata_restores_the_checkpoints_score(tmp_path):
    run = trained_run(tmp_path, best=7.0)
    meta_path = run.path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["best_eval_reward"] = 7  # the same score, written as a whole number (an edited file)
    meta_path.write_text(json.dumps(meta))
    session = resumed(run)
    assert session.best_eval_reward == 7.0
    restored = json.loads(meta_path.read_text())["best_eval_reward"]
    assert restored == 7.0 and isinstance(restored, float)  # the checkpoint's value, not metadata's
    session.close()
