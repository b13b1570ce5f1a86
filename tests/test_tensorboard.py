"""TensorBoard scalars of a run, read back with TensorBoard's own reader (EventAccumulator)."""

from collections import defaultdict

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from ecs_rl.cli import main  # noqa: E402
from ecs_rl.core import EpisodeRecord, EpisodeStatus, Experience, RandomAgent, TrainingRun, TrainingSession  # noqa: E402
from ecs_rl.core.tensorboard import TensorBoardLogger  # noqa: E402


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # 0: keep every event
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_train_tensorboard_writes_the_logged_episodes_and_evaluations(tmp_path):
    root = tmp_path / "runs"
    assert main(["train", "cartpole", "--steps", "2000", "--eval-freq", "1000", "--full", "--tensorboard",
                 "--root", str(root)]) == 0
    run = TrainingRun.resume(root / "cartpole" / "dqn")
    found = scalars(run.path)
    episodes = run.read_train_episodes()
    assert found["train/reward"] == [(r["step"], pytest.approx(r["total_reward"])) for r in episodes]
    assert found["train/length"] == [(r["step"], r["length"]) for r in episodes]
    epsilon = [(r["step"], pytest.approx(r["extras"]["epsilon"], rel=1e-6)) for r in episodes]
    assert found["train/epsilon"] == epsilon and epsilon[0][1] != epsilon[-1][1]  # annealed, step by step
    by_step = defaultdict(list)
    for r in run.read_eval_episodes():
        by_step[r["step"]].append(r["total_reward"])
    assert found["eval/mean_reward"] == [(s, pytest.approx(np.mean(v), rel=1e-6)) for s, v in sorted(by_step.items())]
    assert [s for s, _ in found["eval/mean_reward"]] == [1000, 2000]


def test_a_session_hands_episodes_extras_and_evaluations_to_its_logger(tmp_path):
    run = TrainingRun.create("walk", "v1", root=tmp_path)
    agent = RandomAgent(gym.spaces.Discrete(2), seed=0)
    session = TrainingSession(agent).with_run(run).with_logger(TensorBoardLogger(run.path))
    with session:
        for episode in range(3):
            for _ in range(5):
                session.observe(Experience(np.zeros(2), 0, 1.0, np.zeros(2)))
            session.on_episode(5.0 + episode, 5, EpisodeStatus.TRUNCATED, env_extras={"food": 2 * episode})
        session.on_eval_episode(EpisodeRecord(4.0, 5))
        session.on_eval_episode(EpisodeRecord(6.0, 5))
        session.maybe_save_best(5.0)
    found = scalars(run.path)  # closing the session closed (and flushed) its logger
    assert found["train/reward"] == [(5, 5.0), (10, 6.0), (15, 7.0)]
    assert found["train/food"] == [(5, 0.0), (10, 2.0), (15, 4.0)]
    assert found["eval/mean_reward"] == [(15, 5.0)]

    with pytest.raises(TypeError, match="logger object lacks method.*log_episode"):
        TrainingSession(agent).with_logger(object())


def test_a_resume_from_step_zero_replaces_the_scalars_of_the_killed_process(tmp_path):
    """A run killed before its first checkpoint resumes at step 0 with empty logs: TensorBoard must drop what
    the killed process wrote, as the logs do, not show both."""
    run = TrainingRun.create("walk", "v1", root=tmp_path)
    first = TensorBoardLogger(run.path)
    for step in (5, 10, 15):
        first.log_episode(EpisodeRecord(float(step), 5), step, step // 5)
    first.close()
    again = TensorBoardLogger(run.path, purge_step=0)  # what train --resume passes for a run at step 0
    again.log_episode(EpisodeRecord(-1.0, 5), 5, 1)
    again.close()
    assert scalars(run.path)["train/reward"] == [(5, -1.0)]


def test_tensorboards_own_server_reader_drops_the_steps_a_resume_replays(tmp_path):
    """``tensorboard --logdir`` (its plugin reader; ``--load_fast=false``) takes a run's first session start as
    no restart: the first logger of a run must write one, or a resume's purge is ignored there."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator as PluginReader
    from tensorboard.util import tensor_util

    run = TrainingRun.create("walk", "v1", root=tmp_path)
    first = TensorBoardLogger(run.path)
    for step in (5, 10, 15):
        first.log_episode(EpisodeRecord(float(step), 5), step, step // 5)
    first.close()
    again = TensorBoardLogger(run.path, purge_step=10)  # resumed from its checkpoint at step 10
    again.log_episode(EpisodeRecord(-1.0, 5), 10, 2)
    again.close()
    assert scalars(run.path)["train/reward"] == [(5, 5.0), (10, -1.0)]
    reader = PluginReader(str(run.path), size_guidance={"tensors": 0})
    reader.Reload()
    found = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in reader.Tensors("train/reward")]
    assert found == [(5, 5.0), (10, -1.0)]
