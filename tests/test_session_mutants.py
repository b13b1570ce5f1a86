"""TrainingSession behaviours that mutation testing found unchecked: resuming with and without a best score,
metadata on disk when save_checkpoint returns (the process then hard-killed), agent ids on the act path."""

import json
import math
import multiprocessing
import os
import signal

import gymnasium as gym
import numpy as np
import pytest

from ecs_rl import EpisodeStatus, Experience, RandomAgent, TrainingRun, TrainingSession
from ecs_rl.algorithms import PpoAgent, PpoConfig

OBS = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
ACTIONS = gym.spaces.Discrete(3)


def feed(session: TrainingSession, steps: int) -> None:
    obs = np.zeros(2, dtype=np.float32)
    for t in range(steps):
        action = session.act(obs)
        nxt = np.full(2, (t + 1) / 100, dtype=np.float32)
        session.observe(Experience(obs, action, 1.0, nxt, EpisodeStatus.RUNNING))
        obs = nxt


def trained_run(tmp_path, best: float | None) -> TrainingRun:
    run = TrainingRun.create("game", "v1", root=tmp_path)
    session = TrainingSession(RandomAgent(ACTIONS, seed=1)).with_run(run)
    feed(session, 30)
    if best is not None:
        assert session.maybe_save_best(best)
    session.save_checkpoint()
    session.close()
    return run


def resumed(run: TrainingRun) -> TrainingSession:
    return TrainingSession(RandomAgent(ACTIONS, seed=2)).with_run(TrainingRun.resume(run.path))


def test_resuming_a_run_with_a_best_score_keeps_it_and_only_a_better_one_replaces_best_pt(tmp_path):
    run = trained_run(tmp_path, best=12.5)
    best_bytes = run.best_path.read_bytes()
    session = resumed(run)
    assert session.best_eval_reward == 12.5 and session.total_steps == 30
    assert json.loads((run.path / "metadata.json").read_text())["best_eval_reward"] == 12.5  # restored
    assert not session.maybe_save_best(12.5) and not session.maybe_save_best(3.0)
    assert run.best_path.read_bytes() == best_bytes
    assert "best eval reward" in session.eval_report(1).info
    assert session.maybe_save_best(13.0) and session.best_eval_reward == 13.0
    session.close()
    assert json.loads((run.path / "metadata.json").read_text())["best_eval_reward"] == 13.0


def test_resuming_a_run_without_a_best_score_saves_best_pt_on_the_first_evaluation(tmp_path):
    run = trained_run(tmp_path, best=None)
    assert not run.best_path.exists()
    session = resumed(run)
    assert session.best_eval_reward == -math.inf
    assert session.session_state()["best_eval_reward"] is None
    assert "best eval reward" not in session.eval_report(1).info
    assert session.maybe_save_best(-1e9)  # any finite score beats no score
    assert run.best_path.exists()
    session.close()
    assert json.loads((run.path / "metadata.json").read_text())["best_eval_reward"] == -1e9


def test_a_best_saved_after_the_last_checkpoint_survives_a_resume(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    session = TrainingSession(RandomAgent(ACTIONS, seed=1)).with_run(run)
    feed(session, 10)
    session.maybe_save_best(1.0)
    session.save_checkpoint()  # latest says best 1.0
    session.maybe_save_best(7.0)  # best.pt and metadata say 7.0; the process then dies without close()
    session.run.release_lock()
    again = resumed(run)
    assert again.best_eval_reward == 7.0 and not again.maybe_save_best(6.0)


def _checkpoint_then_die(root: str, steps: int) -> None:
    run = TrainingRun.create("killed", "v1", root=root)
    session = TrainingSession(RandomAgent(ACTIONS, seed=3), metadata_interval=3600.0).with_run(run)
    feed(session, steps)
    session.on_episode(5.0, steps, EpisodeStatus.TERMINATED)
    session.maybe_save_best(4.0)
    feed(session, 3)
    session.save_checkpoint()
    os.kill(os.getpid(), signal.SIGKILL)  # no close(), no flush, no atexit


def test_save_checkpoint_has_written_the_metadata_when_it_returns(tmp_path):
    child = multiprocessing.get_context("fork").Process(target=_checkpoint_then_die, args=(str(tmp_path), 20))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    run_dir = TrainingRun.find(tmp_path / "killed")
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert (meta["total_steps"], meta["total_episodes"], meta["checkpoint_step"]) == (23, 1, 23)
    assert meta["best_eval_reward"] == 4.0
    assert (run_dir / "checkpoints" / "step_23.pt").exists() and (run_dir / "checkpoints" / "latest.pt").exists()
    again = TrainingSession(RandomAgent(ACTIONS)).with_run(TrainingRun.resume(run_dir))
    assert (again.total_steps, again.total_episodes, again.best_eval_reward) == (23, 1, 4.0)
    again.close()


def ppo() -> PpoAgent:
    return PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=4, batch_size=4, n_epochs=1, hidden=(8,), seed=0))


@pytest.mark.parametrize("mask", [None, np.array([True, False, True])])
def test_session_act_hands_the_agent_id_to_the_agent(mask):
    session = TrainingSession(ppo())
    obs = np.array([0.1, -0.2], dtype=np.float32)
    action = session.act(obs, agent_id=7, mask=mask)
    if mask is not None:  # the mask reaches the agent: the illegal action never comes back
        assert all(session.act(obs, agent_id=i, mask=mask) != 1 for i in range(10, 40))
    # PPO takes a transition only for an agent it decided for: agent 7, not agent 0
    session.observe(Experience(obs, action, 1.0, obs, EpisodeStatus.RUNNING, agent_id=7))
    with pytest.raises(RuntimeError, match="agent 0"):
        session.observe(Experience(obs, action, 1.0, obs, EpisodeStatus.RUNNING, agent_id=0))
    assert session.total_steps == 1


def test_report_title_and_the_run_a_checkpoint_needs():
    session = TrainingSession(RandomAgent(ACTIONS))
    assert str(session.eval_report(3)).splitlines()[0] == "Training report"
    assert str(session.eval_report(3, "Mine")).splitlines()[0] == "Mine"
    assert session.eval_report(3).n_episodes == 3
    with pytest.raises(RuntimeError, match=r"^save_checkpoint needs a run: attach one"):
        session.save_checkpoint()
    with pytest.raises(RuntimeError, match=r"^save_latest needs a run"):
        session.save_latest()


@pytest.mark.parametrize("seconds, kept", [(None, None), (2, 2.0), (0.5, 0.5), (np.float32(3), 3.0)])
def test_checkpoint_seconds_accepts_positive_numbers_and_none(seconds, kept):
    session = TrainingSession(RandomAgent(ACTIONS)).with_checkpoint_seconds(seconds)
    assert session.checkpoint_seconds == kept and (kept is None or type(session.checkpoint_seconds) is float)


@pytest.mark.parametrize("seconds", [0, -1.0, True, "5", math.inf, math.nan])
def test_checkpoint_seconds_names_a_bad_value(seconds):
    with pytest.raises(ValueError, match=r"checkpoint_seconds must be a number > 0 \(or None\), got"):
        TrainingSession(RandomAgent(ACTIONS)).with_checkpoint_seconds(seconds)


def test_best_pt_leaves_the_replay_buffer_out_and_latest_keeps_it(tmp_path):
    import torch

    from ecs_rl.algorithms import DqnAgent, DqnConfig

    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), learning_starts=10_000))
    session = TrainingSession(agent).with_run(TrainingRun.create("dqn", root=tmp_path))
    feed(session, 50)
    session.maybe_save_best(1.0)
    session.save_checkpoint()
    run = session.run
    session.close()

    def replay_rows(path):
        data = torch.load(path, weights_only=True)
        found = [v for k, v in _walk(data) if k == "rows"]
        return sum(len(v) for v in found)

    assert replay_rows(run.latest_path) == 50
    assert replay_rows(run.best_path) == 0 and replay_rows(run.checkpoint_path(50)) == 0


def _walk(data, key=None):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _walk(v, k)
    else:
        yield key, data
