"""TensorBoard scalars of a training session: attach with ``session.with_logger(TensorBoardLogger(run.path))``.

Writes with ``torch.utils.tensorboard.SummaryWriter`` (the standard event-file writer; it needs the
``tensorboard`` package: ``pip install 'ecs-rl[tensorboard]'``), imported when a logger is made, so
importing ``ecs_rl.core`` never loads torch. ``tensorboard --logdir runs`` then shows every run.

Scalars, against the session's step count:
``train/reward`` and ``train/length`` for every training episode, ``train/<extra>`` for each finite
numeric extra (epsilon, losses, the game's own numbers), ``eval/mean_reward`` for every evaluation.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

from .types import EpisodeRecord


class TensorBoardLogger:
    """Episode and evaluation scalars as TensorBoard event files in ``log_dir`` (a run directory).

    ``purge_step``: a resumed run passes the step it restarts from, so the steps played again after the
    checkpoint replace the earlier ones in TensorBoard (as the run's JSONL logs are cut back to it); 0
    (a run killed before its first checkpoint) drops every earlier scalar. None: nothing is replaced (the
    first logger of a run directory marks the session's start, so a later resume's replacement holds in
    ``tensorboard --logdir`` too).

    Args:
        log_dir: where the event files go (the run directory).
        purge_step: see above.
        flush_secs: seconds between writes of pending scalars to disk.
    """

    def __init__(self, log_dir: str | os.PathLike[str], purge_step: int | None = None,
                 flush_secs: float = 10.0) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError(f"TensorBoardLogger needs the tensorboard package ({exc}): "
                              "pip install 'ecs-rl[tensorboard]'") from None
        self.log_dir = os.fspath(log_dir)
        if purge_step is None and not any(Path(self.log_dir).glob("events.out.tfevents.*")):
            # A run's first writer marks a session start (purging nothing): TensorBoard's server reader takes
            # the first start in a run as no restart, so without it a resume's purge would be ignored there.
            purge_step = 0
        self._writer = SummaryWriter(self.log_dir, purge_step=purge_step, flush_secs=flush_secs)

    def log_episode(self, record: EpisodeRecord, step: int, episode: int) -> None:
        """One finished training episode at ``step``.

        Args:
            record: the episode.
            step: the session's step count when it ended (the x axis).
            episode: its number in the run.
        """
        self._scalar("train/reward", record.total_reward, step)
        self._scalar("train/length", record.length, step)
        for name, value in record.extras.items():
            self._scalar(f"train/{name}", value, step)

    def log_eval_episode(self, record: EpisodeRecord, step: int) -> None:
        """One greedy evaluation episode (only the evaluation's mean becomes a scalar).

        Args:
            record: the evaluation episode.
            step: the session's step count at the evaluation.
        """

    def log_eval_mean(self, mean_reward: float, step: int) -> None:
        """The mean reward of one evaluation at ``step``.

        Args:
            mean_reward: the evaluation's mean total reward.
            step: the session's step count at the evaluation.
        """
        self._scalar("eval/mean_reward", mean_reward, step)

    def _scalar(self, tag: str, value: Any, step: int) -> None:
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
            self._writer.add_scalar(tag, float(value), global_step=int(step))

    def flush(self) -> None:
        """Write pending scalars to the event file now."""
        self._writer.flush()

    def close(self) -> None:
        """Write what is pending and close the event file (the session does this when it closes)."""
        self._writer.close()

    def __repr__(self) -> str:
        return f"TensorBoardLogger({self.log_dir!r})"
