"""Resume behaviours that mutation testing found unchecked: the checkpoint's counts over a later metadata.json, a
sidecar written for another step, a checkpoint without session state, the best score when best.pt is gone or came
after the checkpoint, a partial session state, load errors and a failed pid write leaving the run as it was, a
second run releasing the first, and the names aggregators print."""

import errno
import json
import math
import resource
import signal

import pytest
from test_session import PathOnlyAgent, RecordingAgent
from test_session_mutants import ACTIONS, feed

from ecs_rl import RandomAgent, RunError, TrainingRun, TrainingSession
from ecs_rl.core.stats import Aggregator, Last, Max, Mean, Min


def died_after_checkpoint(tmp_path, agent_cls=RandomAgent, best_before=None, best_after=None) -> TrainingRun:
    """A run checkpointed at step 1 / episode 1, then one more episode (step 3 / episode 2) logged and written
    to metadata.json, then the process dies (no close)."""
    run = TrainingRun.create("game", "v1", root=tmp_path)
    session = TrainingSession(agent_cls(ACTIONS, seed=1), metadata_interval=0.0).with_run(run)
    session.with_checkpoint_seconds(None)
    feed(session, 1)
    session.on_episode(1.0, 1)
    if best_before is not None:
        session.maybe_save_best(best_before)
    session.save_latest()
    feed(session, 2)
    session.on_episode(2.0, 2)
    if best_after is not None:
        session.maybe_save_best(best_after)
    run.release_lock()
    return run


def metadata(run: TrainingRun) -> dict:
    return json.loads((run.path / "metadata.json").read_text())


def resume(run: TrainingRun, agent_cls=RandomAgent) -> TrainingSession:
    return TrainingSession(agent_cls(ACTIONS, seed=2), metadata_interval=0.0).with_run(TrainingRun.resume(run.path))


def listing(run: TrainingRun) -> dict[str, bytes]:
    return {str(p.relative_to(run.path)): p.read_bytes() for p in sorted(run.path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("agent_cls", [RandomAgent, PathOnlyAgent])  # session state in the file / beside it
def test_a_resume_takes_the_checkpoints_counts_over_a_later_metadata_json(tmp_path, agent_cls):
    run = died_after_checkpoint(tmp_path, agent_cls)
    assert (metadata(run)["total_steps"], metadata(run)["total_episodes"]) == (3, 2)
    again = resume(run, agent_cls)
    assert (again.total_steps, again.total_episodes, again.agent.total_steps) == (1, 1, 1)
    assert [row["episode"] for row in again.run.read_train_episodes()] == [1]
    assert again.resume_notes == ["1 line(s) of train_episodes.jsonl written after the checkpoint moved to "
                                  "train_episodes.rolled-back.jsonl"]
    meta = metadata(run)
    assert (meta["total_steps"], meta["total_episodes"], meta["checkpoint_step"]) == (1, 1, 1)
    again.on_episode(1.0, 1)  # the session's own metadata write names the checkpoint it resumed from
    meta = metadata(run)
    assert (meta["total_steps"], meta["total_episodes"], meta["checkpoint_step"]) == (1, 2, 1)
    again.close()


@pytest.mark.parametrize("agent_steps", [2, None])  # a sidecar of another step, one without the agent's step
def test_a_sidecar_written_for_another_step_gives_way_to_metadata_json(tmp_path, agent_steps):
    run = died_after_checkpoint(tmp_path, PathOnlyAgent)
    sidecar = run.latest_path.with_name(run.latest_path.name + ".session.json")
    state = json.loads(sidecar.read_text())
    assert state["agent_steps"] == 1
    if agent_steps is None:
        del state["agent_steps"]
    else:
        state["agent_steps"] = agent_steps
    sidecar.write_text(json.dumps(state))
    again = resume(run, PathOnlyAgent)
    assert (again.total_steps, again.total_episodes) == (3, 2)
    assert again.resume_notes == [f"{sidecar} was written for another step than {run.latest_path}: "
                                  "counts from metadata.json"]
    assert len(again.run.read_train_episodes()) == 2  # no session state: the logs stay as they are
    again.close()


def test_an_older_checkpoint_takes_counts_and_best_score_from_metadata_json(tmp_path):
    run = died_after_checkpoint(tmp_path, PathOnlyAgent, best_after=4.0)
    run.latest_path.with_name(run.latest_path.name + ".session.json").unlink()  # no session state saved
    run.best_path.unlink()  # best.pt removed: the score is still the run's best
    again = resume(run, PathOnlyAgent)
    assert (again.total_steps, again.total_episodes, again.best_eval_reward) == (3, 2, 4.0)
    assert again.resume_notes == []
    assert not again.maybe_save_best(4.0) and again.maybe_save_best(4.5)
    again.close()


def test_a_checkpoint_saved_by_the_agent_alone_takes_its_counts_from_metadata_json(tmp_path):
    run = died_after_checkpoint(tmp_path)
    RandomAgent(ACTIONS, seed=1).save(run.latest_path)  # no session state in it: load returns None
    again = resume(run)
    assert (again.total_steps, again.total_episodes, again.resume_notes) == (3, 2, [])
    again.close()


def test_without_best_pt_the_checkpoints_own_best_score_stands(tmp_path):
    run = died_after_checkpoint(tmp_path, best_before=1.0, best_after=7.0)
    assert metadata(run)["best_eval_reward"] == 7.0
    run.best_path.unlink()  # the later best has no file to back it: the checkpoint's score is restored
    again = resume(run)
    assert again.best_eval_reward == 1.0 and metadata(run)["best_eval_reward"] == 1.0
    assert again.maybe_save_best(5.0) and again.run.best_path.exists()
    again.close()


def test_a_first_best_saved_after_the_checkpoint_survives_a_resume(tmp_path):
    run = died_after_checkpoint(tmp_path, best_after=7.0)  # the checkpoint itself has no best score
    again = resume(run)
    assert again.best_eval_reward == 7.0 and metadata(run)["best_eval_reward"] == 7.0
    assert not again.maybe_save_best(6.0)
    again.close()


class NoEpisodeCountAgent(RandomAgent):
    """An agent whose stored session state lacks the episode count."""

    def load(self, path):
        state = super().load(path)
        del state["total_episodes"]
        return state


def test_a_session_state_without_an_episode_count_resumes_at_episode_zero(tmp_path):
    run = died_after_checkpoint(tmp_path)
    again = resume(run, NoEpisodeCountAgent)
    assert (again.total_steps, again.total_episodes, again.best_eval_reward) == (1, 0, -math.inf)
    again.close()


class BrokenLoadAgent(RandomAgent):
    def load(self, path):
        raise ValueError(f"checkpoint {path} lacks layer 'q'\nexpected: q, target")


class NotAMappingAgent(RandomAgent):
    def load(self, path):
        super().load(path)
        return [1, 2]


@pytest.mark.parametrize("agent_cls, message", [
    (BrokenLoadAgent, "checkpoint {} lacks layer 'q'"),
    (NotAMappingAgent, "checkpoint {} holds a session state that is not a mapping"),
])
def test_a_checkpoint_that_does_not_load_is_named_and_leaves_the_run_as_it_was(tmp_path, agent_cls, message):
    run = died_after_checkpoint(tmp_path)
    run.lock_path.unlink()  # e.g. a run copied without its lock file: this open creates it
    before = listing(run)
    with pytest.raises(RunError) as info:
        resume(run, agent_cls)
    assert str(info.value) == message.format(run.latest_path)
    assert listing(run) == before and not run.lock_path.exists()
    resume(run).close()  # the lock was released


def test_open_run_refuses_a_log_shorter_than_its_checkpoint_before_anything_is_written(tmp_path):
    run = died_after_checkpoint(tmp_path)
    run.train_log_path.write_bytes(b"")
    before = listing(run)
    with pytest.raises(RunError, match="train_episodes.jsonl is shorter than checkpoint latest.pt says"):
        TrainingSession(RandomAgent(ACTIONS)).open_run(TrainingRun.resume(run.path))
    assert listing(run) == before


def test_a_resume_without_a_checkpoint_keeps_per_actor_state_and_names_no_checkpoint(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    session = TrainingSession(RandomAgent(ACTIONS, seed=1)).with_run(run)
    feed(session, 2)
    session.on_episode(2.0, 2)
    run.release_lock()  # died before any checkpoint
    agent = RecordingAgent(ACTIONS)
    again = TrainingSession(agent, metadata_interval=0.0).with_run(TrainingRun.resume(run.path))
    assert agent.forgotten == 0 and again.total_steps == 0
    assert again.resume_notes[-1] == f"no checkpoint in {run.path} yet: starting from step 0 with empty logs"
    again.on_episode(1.0, 1)
    assert metadata(run)["checkpoint_step"] is None and metadata(run)["total_episodes"] == 1
    again.close()
    agent = RecordingAgent(ACTIONS)
    again = TrainingSession(agent).with_run(TrainingRun.resume(run.path))  # close() saved latest
    assert agent.forgotten == 1
    again.close()


def test_a_run_whose_lock_holder_cannot_be_written_is_left_without_a_lock_file(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)  # no lock file yet: opening it creates one
    before = listing(run)
    session = TrainingSession(RandomAgent(ACTIONS))
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, limit[1]))  # no file may grow: writing the pid fails
    try:
        with pytest.raises(OSError) as info:
            session.with_run(TrainingRun.resume(run.path))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    assert info.value.errno == errno.EFBIG
    assert listing(run) == before and not run.lock_path.exists() and session.run is None
    session.with_run(TrainingRun.resume(run.path)).close()


def test_attaching_another_run_releases_the_first_and_keeps_the_second_locked(tmp_path):
    first = TrainingRun.create("game", "a", root=tmp_path)
    second = TrainingRun.create("game", "b", root=tmp_path)
    session = TrainingSession(RandomAgent(ACTIONS)).with_run(first)
    assert session.resume_notes == []
    session.with_run(second).with_run(second)
    assert session.run is second and second.locked and not first.locked
    with pytest.raises(RunError, match="is in use"):
        TrainingSession(RandomAgent(ACTIONS)).with_run(TrainingRun.resume(second.path))
    TrainingSession(RandomAgent(ACTIONS)).with_run(TrainingRun.resume(first.path)).close()
    session.close()


class Median(Aggregator):
    pass


def test_an_aggregator_prints_as_its_own_class():
    assert [repr(a) for a in (Mean(), Max(), Min(), Last(), Median())] == [
        "Mean()", "Max()", "Min()", "Last()", "Median()"]
