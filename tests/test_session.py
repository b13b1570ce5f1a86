"""TrainingSession driven by a plain loop with the random agent on Gymnasium's CartPole."""

import json
import math

import gymnasium as gym
import numpy as np
import pytest

from ecs_rl import (
    EpisodeRecord, EpisodeStatus, Experience, Max, RandomAgent, StatsTracker, TrainingRun, TrainingSession,
)


def drive(session: TrainingSession, env: gym.Env, seed: int | None = None) -> None:
    """Step ``env`` with the session's actions until the session is done; end episodes as they end."""
    obs, _ = env.reset(seed=seed)
    ret, length = 0.0, 0
    while not session.is_done():
        action = session.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        status = EpisodeStatus.from_flags(terminated, truncated)
        session.observe(Experience(obs, action, float(reward), next_obs, status))
        ret, length, obs = ret + float(reward), length + 1, next_obs
        if status.is_done:
            session.on_episode(ret, length, status, {"x_final": float(next_obs[0])})
            obs, _ = env.reset()
            ret, length = 0.0, 0


def make_session(tmp_path, steps=2_000, seed=0) -> tuple[TrainingSession, gym.Env]:
    env = gym.make("CartPole-v1")
    run = TrainingRun.create("cartpole", "random", root=tmp_path)
    session = (
        TrainingSession(RandomAgent(env.action_space, seed=seed))
        .with_run(run)
        .with_max_steps(steps)
        .with_checkpoint_freq(300)
        .with_keep_checkpoints(2)
    )
    return session, env


def test_plain_loop_session_writes_a_complete_run(tmp_path):
    session, env = make_session(tmp_path)
    with session:
        drive(session, env, seed=0)
        assert session.maybe_save_best(25.0) and not session.maybe_save_best(20.0)
        session.on_eval_episode(EpisodeRecord(25.0, 25))
    run = session.run
    assert session.total_steps == 2_000 and session.is_done()

    lines = run.train_log_path.read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == session.total_episodes > 50
    assert [r["episode"] for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r["length"] for r in rows) <= 2_000 and all(r["status"] == "terminated" for r in rows)
    assert all("x_final" in r["extras"] for r in rows)
    assert rows[-1]["step"] <= 2_000 and rows[0]["step"] == rows[0]["length"]

    meta = json.loads((run.path / "metadata.json").read_text())
    assert meta["total_steps"] == 2_000 and meta["total_episodes"] == len(rows)
    assert meta["best_eval_reward"] == 25.0
    # checkpoints every 300 steps up to 1800; only the newest 2 remain, latest and best survive pruning
    assert [s for s, _ in run.numbered_checkpoints()] == [1500, 1800]
    assert run.latest_path.exists() and run.best_path.exists()
    assert run.read_eval_episodes()[0]["step"] == 2_000

    mean = session.stats_summary()["mean_reward"]
    assert mean == pytest.approx(np.mean([r["total_reward"] for r in rows[-100:]]))
    assert session.steps_per_sec > 0


def test_resume_continues_counts_appends_logs_and_restores_the_agent(tmp_path):
    session, env = make_session(tmp_path, steps=1_000, seed=3)
    with session:
        drive(session, env, seed=3)
    episodes_before = session.total_episodes
    lines_before = session.run.train_log_path.read_text().splitlines()
    # what the agent would have done next had it never stopped
    never_stopped = [session.act(None) for _ in range(20)]

    resumed_agent = RandomAgent(gym.spaces.Discrete(2), seed=999)  # a different seed: load must restore state
    resumed = TrainingSession(resumed_agent).with_run(TrainingRun.resume(tmp_path / "cartpole")).with_max_steps(1_600)
    assert resumed.total_steps == 1_000 and resumed.total_episodes == episodes_before
    assert resumed.agent.total_steps == 1_000
    assert [resumed.act(None) for _ in range(20)] == never_stopped
    # the rolling stats are rebuilt from the log, so the curve does not restart from nothing
    assert resumed.stats_summary()["mean_reward"] == pytest.approx(session.stats_summary()["mean_reward"])

    with resumed:
        drive(resumed, gym.make("CartPole-v1"), seed=4)
    lines_after = resumed.run.train_log_path.read_text().splitlines()
    assert lines_after[: len(lines_before)] == lines_before
    new_rows = [json.loads(line) for line in lines_after[len(lines_before):]]
    assert new_rows and new_rows[0]["episode"] == episodes_before + 1
    assert all(1_000 < r["step"] <= 1_600 for r in new_rows)
    meta = json.loads((resumed.run.path / "metadata.json").read_text())
    assert meta["total_steps"] == 1_600 and meta["total_episodes"] == resumed.total_episodes


def test_resume_with_a_corrupt_latest_checkpoint_fails_and_keeps_files(tmp_path):
    session, env = make_session(tmp_path, steps=400)
    with session:
        drive(session, env)
    latest = session.run.latest_path
    latest.write_bytes(b"\x80garbage")
    meta_before = (session.run.path / "metadata.json").read_bytes()
    with pytest.raises(ValueError, match="latest.pt"):
        TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_run(TrainingRun.resume(session.run.path))
    assert latest.read_bytes() == b"\x80garbage"
    assert (session.run.path / "metadata.json").read_bytes() == meta_before


@pytest.mark.parametrize(
    "method, value, argument",
    [
        ("with_checkpoint_freq", 0, "checkpoint_freq"),
        ("with_checkpoint_freq", -5, "checkpoint_freq"),
        ("with_keep_checkpoints", -1, "keep_checkpoints"),
        ("with_max_steps", -1, "max_steps"),
        ("with_max_steps", 2.5, "max_steps"),
    ],
)
def test_invalid_settings_name_the_argument(method, value, argument):
    session = TrainingSession(RandomAgent(gym.spaces.Discrete(2)))
    with pytest.raises(ValueError, match=argument):
        getattr(session, method)(value)


def test_defaults_follow_the_reference_design():
    session = TrainingSession(RandomAgent(gym.spaces.Discrete(2)))
    assert session.checkpoint_freq == 10_000 and session.keep_checkpoints == 3 and session.max_steps is None
    assert not session.is_done() and session.run is None
    assert session.with_max_steps(0).is_done()


def test_bad_rewards_are_refused_and_nothing_logged_is_lost(tmp_path):
    session, _ = make_session(tmp_path)
    session.on_episode(5.0, 5, EpisodeStatus.TRUNCATED, agent_id=1)
    before = session.run.train_log_path.read_text()
    with pytest.raises(ValueError, match="agent 4.*finite"):
        session.on_episode(math.nan, 5, EpisodeStatus.TERMINATED, agent_id=4)
    with pytest.raises(ValueError, match="reward of agent 2"):
        session.observe(Experience(np.zeros(4), 0, math.inf, np.zeros(4), agent_id=2))
    assert session.run.train_log_path.read_text() == before
    assert session.total_episodes == 1 and session.total_steps == 0
    with pytest.raises(ValueError, match="mean_reward"):
        session.maybe_save_best(math.nan)


def test_custom_stats_and_agent_without_the_protocol():
    session = TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_stats(
        StatsTracker().track("best", "reward", Max())
    )
    session.on_episode(3.0, 3)
    session.on_episode(7.0, 7)
    summary = session.stats_summary()  # added to the defaults; no decision period: no mean decisions
    assert list(summary) == ["mean_reward", "mean_length", "mean_decisions", "best"]
    assert (summary["mean_reward"], summary["mean_length"], summary["best"]) == (5.0, 5.0, 7.0)
    assert math.isnan(summary["mean_decisions"])
    report = str(session.eval_report(2))
    assert "best" in report and "total episodes" in report
    with pytest.raises(TypeError, match="act_batch"):
        TrainingSession(object())


def test_act_batch_and_into_agent(tmp_path):
    session, _ = make_session(tmp_path)
    actions = session.act_batch(np.zeros((16, 4), dtype=np.float32))
    assert actions.shape == (16,) and set(np.unique(actions)) <= {0, 1}
    agent = session.into_agent()
    assert isinstance(agent, RandomAgent)
    assert session.run.latest_path.exists()  # into_agent closes the session, saving latest


# -- the checkpoint is the truth ----------------------------------------------------------------------

import os
import re
import time

from ecs_rl import RunError


class RecordingAgent(RandomAgent):
    """A random agent that notes forget_all() calls and the temporary names it is asked to save to."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.forgotten = 0
        self.saved_to: list[str] = []
        self.beside: list[list[str]] = []

    def forget_all(self):
        self.forgotten += 1

    def save(self, path, session=None):
        super().save(path, session=session)
        self.saved_to.append(os.path.basename(path))
        self.beside.append(sorted(os.listdir(os.path.dirname(path))))


def test_a_crash_after_the_checkpoint_rolls_the_run_back_to_it(tmp_path):
    session, env = make_session(tmp_path, steps=600)  # checkpoints at 300 and 600
    session.with_checkpoint_seconds(None)
    drive(session, env, seed=0)
    at_checkpoint = json.loads((session.run.path / "metadata.json").read_text())
    rows_at_checkpoint = session.run.read_train_episodes()
    session.with_max_steps(750)
    drive(session, env)  # 150 more steps, logged, never checkpointed; then the process "dies"
    session.run.release_lock()  # what the OS does when a process dies
    assert len(session.run.read_train_episodes()) > len(rows_at_checkpoint)

    agent = RecordingAgent(gym.spaces.Discrete(2), seed=5)
    resumed = TrainingSession(agent).with_run(TrainingRun.resume(session.run.path))
    assert resumed.total_steps == 600 == agent.total_steps == at_checkpoint["total_steps"]
    assert resumed.total_episodes == len(rows_at_checkpoint)
    assert resumed.run.read_train_episodes() == rows_at_checkpoint
    assert agent.forgotten == 1  # the world of the dead process is gone: per-actor state is dropped
    assert any("moved to train_episodes.rolled-back.jsonl" in note for note in resumed.resume_notes)
    meta = json.loads((resumed.run.path / "metadata.json").read_text())
    assert meta["total_steps"] == 600 and meta["total_episodes"] == len(rows_at_checkpoint)
    resumed.close()


def test_a_resume_without_a_checkpoint_starts_from_zero_and_says_so(tmp_path):
    session, env = make_session(tmp_path, steps=200)  # first checkpoint would be at 300
    drive(session, env)
    session.run.release_lock()
    resumed = TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_run(TrainingRun.resume(session.run.path))
    assert resumed.total_steps == 0 and resumed.total_episodes == 0
    assert resumed.run.read_train_episodes() == []
    assert resumed.resume_notes[-1] == f"no checkpoint in {session.run.path} yet: starting from step 0 with empty logs"
    resumed.close()


def test_latest_is_also_saved_on_a_clock_and_temporary_names_never_nest(tmp_path):
    agent = RecordingAgent(gym.spaces.Discrete(2))
    run = TrainingRun.create("cartpole", "random", root=tmp_path)
    session = TrainingSession(agent).with_run(run).with_checkpoint_seconds(0.05).with_max_steps(400)
    assert session.checkpoint_seconds == 0.05
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        session.observe(Experience(obs, 0, 1.0, obs, EpisodeStatus.RUNNING))
        time.sleep(0.06)
    assert session.total_steps == 3 and len(agent.saved_to) >= 2 and run.latest_path.exists()
    assert all(re.fullmatch(r"\.latest\.pt\.\w+\.tmp", name) for name in agent.saved_to)
    assert all(name.count(".tmp") <= 1 for names in agent.beside for name in names)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        session.with_checkpoint_seconds(0)
    session.close()


def test_a_second_session_on_a_locked_run_is_refused_and_changes_nothing(tmp_path):
    session, _ = make_session(tmp_path)
    before = sorted(p.name for p in session.run.path.rglob("*"))
    with pytest.raises(RunError, match=f"process {os.getpid()} is training in it"):
        TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_run(TrainingRun.resume(session.run.path))
    assert sorted(p.name for p in session.run.path.rglob("*")) == before
    session.close()

def test_random_agents_sample_from_their_own_copy_of_the_space():
    from ecs_rl.worlds import cartpole

    before = cartpole.action_space.np_random.bit_generator.state
    a, b = RandomAgent(cartpole.action_space, seed=1), RandomAgent(cartpole.action_space, seed=2)
    alone = RandomAgent(gym.spaces.Discrete(2), seed=1)
    draws_a = []
    for _ in range(50):  # interleaved: b's draws move only b's stream
        draws_a.append(a.act(None))
        b.act_batch(np.zeros((3, 4)))
    assert draws_a == [alone.act(None) for _ in range(50)]
    assert a.action_space is not cartpole.action_space and b.action_space is not a.action_space
    assert cartpole.action_space.np_random.bit_generator.state == before


class PathOnlyAgent(RandomAgent):
    """A custom agent whose save takes only a path (the protocol's minimum): its session state goes beside."""

    def save(self, path):
        super().save(path)

    def load(self, path):
        super().load(path)


def test_an_agent_saving_only_a_path_resumes_after_clock_and_step_checkpoints(tmp_path):
    env = gym.make("CartPole-v1")
    run = TrainingRun.create("cartpole", "custom", root=tmp_path)
    session = (TrainingSession(PathOnlyAgent(env.action_space, seed=0)).with_run(run).with_max_steps(250)
               .with_checkpoint_freq(100).with_keep_checkpoints(1))
    drive(session, env, seed=0)  # numbered checkpoints at 100 and 200
    session.save_latest()  # a clock save at 250 ...
    session.with_max_steps(300)
    drive(session, env)  # ... then a numbered one at 300: latest and its sidecar must move together
    session.run.release_lock()
    names = sorted(p.name for p in run.checkpoints_dir.iterdir())
    assert names == ["latest.pt", "latest.pt.session.json", "step_300.pt", "step_300.pt.session.json"]
    agent = PathOnlyAgent(env.action_space, seed=1)
    resumed = TrainingSession(agent).with_run(TrainingRun.resume(run.path))
    assert resumed.total_steps == agent.total_steps == 300 and resumed.total_episodes == len(
        resumed.run.read_train_episodes())
    resumed.close()


def test_sessions_opened_together_leave_every_run_as_it_was_when_one_checkpoint_is_broken(tmp_path):
    paths, logs = [], []
    for seed in (0, 1):
        session, env = make_session(tmp_path / str(seed), steps=350, seed=seed)  # checkpoint at 300, 50 more logged
        session.with_checkpoint_seconds(None)
        drive(session, env, seed=seed)
        session.run.release_lock()  # killed: lines after the checkpoint stay in the log
        paths.append(session.run.path)
        logs.append(session.run.train_log_path.read_bytes())
    (paths[1] / "checkpoints" / "latest.pt").write_text("{ not a checkpoint")
    first = TrainingSession(RandomAgent(gym.spaces.Discrete(2))).open_run(TrainingRun.resume(paths[0]))
    with pytest.raises(RunError, match="latest.pt"):
        TrainingSession(RandomAgent(gym.spaces.Discrete(2))).open_run(TrainingRun.resume(paths[1]))
    first._opening[0].release_lock()
    assert [(p / "train_episodes.jsonl").read_bytes() for p in paths] == logs  # nothing was cut back yet
    assert not list(paths[0].glob("*.rolled-back.jsonl"))
