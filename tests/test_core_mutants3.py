"""Behaviours of ecs_rl.core that a mutation run showed unchecked: the disk-full threshold of write errors,
pruning checkpoints another process removed, and which TensorBoard scalars a logger writes or purges."""

import math
import os

import pytest
from test_tensorboard import scalars

from ecs_rl import EpisodeRecord, TrainingRun
from ecs_rl.core.files import write_error
from ecs_rl.core.tensorboard import TensorBoardLogger


def free_space(monkeypatch, directory, free_bytes):
    """Make ``os.statvfs`` report ``free_bytes`` available (in 1-byte fragments) for ``directory``."""
    real = os.statvfs
    directory = os.fspath(directory)

    def statvfs(path):
        st = real(path)
        if os.fspath(path) != directory:
            return st
        fields = list(st)
        fields[1], fields[4] = 1, free_bytes  # f_frsize, f_bavail
        return os.statvfs_result(fields)

    monkeypatch.setattr(os, "statvfs", statvfs)


@pytest.mark.parametrize("free_bytes, reason", [(64 * 1024, "boom"), (64 * 1024 - 1, "no space left on device")])
def test_a_write_error_without_an_errno_says_no_space_below_64_kib_free(tmp_path, monkeypatch, free_bytes, reason):
    free_space(monkeypatch, tmp_path, free_bytes)
    err = write_error(tmp_path / "log.jsonl", RuntimeError("boom"))
    assert str(err) == f"cannot write {tmp_path / 'log.jsonl'}: {reason}"


def test_prune_succeeds_when_a_doomed_checkpoint_was_already_removed(tmp_path):
    """A checkpoint removed by someone else between the listing and the deletion is no error."""
    run = TrainingRun.create("walk", "v1", root=tmp_path)
    for step in (10, 20, 30):
        run.checkpoint_path(step).write_bytes(b"weights")
    listed = run.numbered_checkpoints

    def listing_then_removed_elsewhere():
        found = listed()
        run.checkpoint_path(10).unlink()  # e.g. a user cleaning up old checkpoints by hand meanwhile
        return found

    run.numbered_checkpoints = listing_then_removed_elsewhere
    assert run.prune_checkpoints(1) == [run.checkpoint_path(10), run.checkpoint_path(20)]
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["step_30.pt"]


def test_a_second_logger_without_purge_step_keeps_the_earlier_scalars(tmp_path):
    run = TrainingRun.create("walk", "v1", root=tmp_path)
    first = TensorBoardLogger(run.path)
    for step in (5, 10):
        first.log_episode(EpisodeRecord(float(step), 5), step, step // 5)
    first.close()
    again = TensorBoardLogger(run.path)  # a later session that replays nothing (purge_step None)
    again.log_episode(EpisodeRecord(15.0, 5), 15, 3)
    again.close()
    assert scalars(run.path)["train/reward"] == [(5, 5.0), (10, 10.0), (15, 15.0)]


def test_non_finite_extras_and_evaluation_means_are_left_out_of_the_scalars(tmp_path):
    """A loss before any update is NaN: TensorBoard gets no point for it rather than a gap in the plot."""
    logger = TensorBoardLogger(tmp_path)
    logger.log_episode(EpisodeRecord(1.0, 4, extras={"count": 3, "loss": math.nan, "gain": -math.inf}), 4, 1)
    logger.log_eval_mean(math.inf, 4)
    logger.close()
    assert scalars(tmp_path) == {"train/reward": [(4, 1.0)], "train/length": [(4, 4.0)], "train/count": [(4, 3.0)]}
