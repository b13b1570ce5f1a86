"""Behaviours of runs, sessions, frozen greedy policies and observation batches that a mutation run found unchecked."""

import pytest
from test_ecs_plugin import learner
from test_session_mutants import ACTIONS, feed, resumed, trained_run
from walk_world import reset

import ecs_rl.core.run as run_module
from ecs_rl import RandomAgent, RunError, TrainingRun, TrainingSession
from ecs_rl.ecs import install
from ecs_rl.ecs.policies import PolicyEntry


def test_create_gives_up_after_ten_thousand_runs_in_one_second_naming_the_directory(tmp_path, monkeypatch):
    stamp = "20260101_000000"
    monkeypatch.setattr(run_module.time, "strftime", lambda fmt: stamp)
    parent = tmp_path / "game" / "v1"
    parent.mkdir(parents=True)
    for k in range(10_000):
        (parent / (stamp if k == 0 else f"{stamp}_{k}")).mkdir()
    with pytest.raises(RunError, match=r"^could not find a free run directory under .*v1$"):
        TrainingRun.create("game", root=tmp_path)
    (parent / f"{stamp}_9999").rmdir()
    assert TrainingRun.create("game", root=tmp_path).path == parent / f"{stamp}_9999"


def test_release_lock_keeps_the_lock_file_unless_told_to_undo(tmp_path):
    run = TrainingRun.create("game", root=tmp_path)
    run.acquire_lock()
    assert run.lock_path.exists()
    run.release_lock()
    assert run.lock_path.exists() and not run.locked
    run.release_lock()  # releasing twice is harmless
    run.lock_path.unlink()
    run.acquire_lock()
    run.release_lock(undo=True)
    assert not run.lock_path.exists() and not run.locked


def test_a_fresh_session_has_no_resume_notes_and_a_list_to_read():
    session = TrainingSession(RandomAgent(ACTIONS))
    assert session.resume_notes == []
    assert list(session.resume_notes) == []


def test_the_training_report_names_the_run_it_writes_to(tmp_path):
    run = TrainingRun.create("game", root=tmp_path)
    session = TrainingSession(RandomAgent(ACTIONS, seed=1)).with_run(run)
    info = session.eval_report(2).info
    assert info["run"] == str(run.path)
    assert set(info) == {"steps/sec", "run"}
    assert str(run.path) in str(session.eval_report(2))
    assert "run" not in TrainingSession(RandomAgent(ACTIONS)).eval_report(2).info


def test_a_frozen_agent_without_to_policy_acts_greedily_with_the_agent_s_spaces(world):
    session = learner()
    agent = session.agent
    plugin = install({"walk": session}, reset)
    plugin.freeze("walk")
    greedy = plugin.acting("walk")
    assert greedy is not agent and greedy.agent is agent
    assert greedy.action_space is agent.action_space
    assert greedy.observation_space is agent.observation_space
    assert PolicyEntry("copy", greedy).obs_shape == tuple(agent.observation_space.shape)


def test_release_lock_with_undo_keeps_a_lock_file_it_did_not_create(tmp_path):
    run = TrainingRun.create("game", root=tmp_path)
    run.lock_path.write_text("")
    run.acquire_lock()
    run.release_lock(undo=True)
    assert run.lock_path.exists() and not run.locked


def test_the_training_report_carries_every_field_and_the_best_score(tmp_path):
    session = resumed(trained_run(tmp_path, 1.5))
    feed(session, 4)
    report = session.eval_report(7)
    assert (report.n_episodes, report.total_steps, report.title) == (7, session.total_steps, "Training report")
    assert report.total_episodes == session.total_episodes
    assert report.stats == session.stats_summary()
    assert report.info["best eval reward"] == "1.500"
    assert set(report.info) == {"steps/sec", "best eval reward", "run"}
    assert report.info["steps/sec"].replace(",", "").isdigit()
    assert "Training report" in str(report) and "1.500" in str(report)
    session.close()


class _NoSave(RandomAgent):
    save = None


def test_a_fresh_session_starts_empty_with_the_documented_defaults():
    agent = RandomAgent(ACTIONS)
    session = TrainingSession(agent)
    assert session.agent is agent and session.run is None and session.max_steps is None
    assert (session.total_steps, session.total_episodes) == (0, 0)
    assert (session.checkpoint_freq, session.checkpoint_seconds, session.keep_checkpoints) == (10_000, 60.0, 3)
    assert session.best_eval_reward == -float("inf")
    with pytest.raises(TypeError, match=r"^agent _NoSave lacks LearningAgent member\(s\): save$"):
        TrainingSession(_NoSave(ACTIONS))


def test_an_agent_without_an_observation_space_freezes_to_a_greedy_policy_without_one(world):
    agent = RandomAgent(ACTIONS)
    plugin = install({"walk": TrainingSession(agent)}, reset)
    plugin.freeze("walk")
    greedy = plugin.acting("walk")
    assert greedy.agent is agent and greedy.action_space is agent.action_space == ACTIONS and greedy.observation_space is None
