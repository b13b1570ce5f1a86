"""Core behaviours that mutation testing found unchecked: loggers, reports, episode records from JSON,
checkpoint hooks."""

import math

import gymnasium as gym
import numpy as np
import pytest

from ecs_rl import EpisodeRecord, EpisodeStatus, Experience, RandomAgent, TrainingRun, TrainingSession
from ecs_rl.core.stats import EvalReport


class ListLogger:
    """A real logger that keeps what it is given (the protocol TensorBoardLogger implements)."""

    def __init__(self):
        self.episodes, self.eval_episodes, self.eval_means, self.closed = [], [], [], 0

    def log_episode(self, record, step, episode):
        self.episodes.append((record.total_reward, step, episode))

    def log_eval_episode(self, record, step):
        self.eval_episodes.append((record.total_reward, step))

    def log_eval_mean(self, mean, step):
        self.eval_means.append((mean, step))

    def close(self):
        self.closed += 1


def steps(session, n):
    for _ in range(n):
        session.observe(Experience(np.zeros(1), 0, 1.0, np.zeros(1)))


def test_a_logger_gets_each_episode_with_the_step_and_episode_number_and_is_closed_once(tmp_path):
    logger = ListLogger()
    session = TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_logger(logger)
    steps(session, 3)
    session.on_episode(3.0, 3)
    steps(session, 2)
    session.on_episode(2.0, 2, EpisodeStatus.TRUNCATED)
    session.on_eval_episode(EpisodeRecord(9.0, 9))
    session.maybe_save_best(9.0)
    assert logger.episodes == [(3.0, 3, 1), (2.0, 5, 2)]
    assert logger.eval_episodes == [(9.0, 5)] and logger.eval_means == [(9.0, 5)]
    session.close()
    session.close()
    assert logger.closed == 1


def test_a_logger_missing_methods_is_refused_naming_them():
    class Half:
        def log_episode(self, record, step, episode): ...

        def close(self): ...

    with pytest.raises(TypeError, match=r"logger Half lacks method\(s\): log_eval_episode, log_eval_mean$"):
        TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_logger(Half())


def test_with_stats_refuses_what_is_not_a_stats_tracker():
    with pytest.raises(ValueError, match="stats must be a StatsTracker, got dict"):
        TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_stats({"mean": 1})


def test_checkpoint_hooks_run_with_the_step_of_each_checkpoint(tmp_path):
    session = TrainingSession(RandomAgent(gym.spaces.Discrete(2))).with_run(TrainingRun.create("h", root=tmp_path))
    seen = []
    assert session.on_checkpoint(seen.append) == seen.append
    steps(session, 4)
    session.save_checkpoint()
    steps(session, 3)
    session.save_latest()
    session.close()
    assert seen == [4, 7, 7]


def test_forget_reaches_an_agent_that_keeps_per_agent_state():
    class Forgetful(RandomAgent):
        def __init__(self):
            super().__init__(gym.spaces.Discrete(2))
            self.forgotten = []

        def forget(self, agent_id):
            self.forgotten.append(agent_id)

    agent = Forgetful()
    session = TrainingSession(agent)
    session.forget(12)
    assert agent.forgotten == [12]
    TrainingSession(RandomAgent(gym.spaces.Discrete(2))).forget(3)  # an agent without forget: nothing to do


def test_an_episode_record_from_json_names_every_missing_field_and_keeps_extras():
    with pytest.raises(ValueError, match=r"missing field\(s\) total_reward, status$"):
        EpisodeRecord.from_json({"length": 3})
    with pytest.raises(ValueError, match="unknown status 'lost'"):
        EpisodeRecord.from_json({"total_reward": 1.0, "length": 3, "status": "lost"})
    with pytest.raises(ValueError, match="must be a JSON object, got list"):
        EpisodeRecord.from_json([1, 2])
    record = EpisodeRecord.from_json({"total_reward": 1.5, "length": 3, "status": "truncated",
                                      "extras": {"score": 2.0, "gone": None}})
    assert (record.total_reward, record.length, record.status) == (1.5, 3, EpisodeStatus.TRUNCATED)
    assert record.extras["score"] == 2.0 and math.isnan(record.extras["gone"])
    assert EpisodeRecord.from_json({"total_reward": 1, "length": 1, "status": "terminated", "extras": None}).extras == {}


def test_a_report_names_its_units_only_when_decisions_are_counted():
    plain = str(EvalReport(5, {"mean_reward": 1.0, "mean_length": 4.0, "mean_decisions": math.nan}, 100, 5, "T"))
    lines = plain.splitlines()
    assert lines[0] == "T" and lines[1].split()[:2] == ["stat", "value"]
    assert "total steps " in plain and "(decisions)" not in plain and "mean_decisions" not in plain
    assert "mean_length " in plain and "(ticks)" not in plain
    timed = str(EvalReport(5, {"mean_reward": 1.0, "mean_length": 8.0, "mean_decisions": 2.0}, 100, 5))
    assert "total steps (decisions)" in timed and "mean_length (ticks)" in timed and "mean_decisions (steps)" in timed
    evaluation = str(EvalReport(5, {"mean_reward": 1.0}))
    assert "total steps" not in evaluation and "total episodes" not in evaluation


def test_a_corrupt_log_line_is_named_with_what_is_wrong(tmp_path):
    from ecs_rl.core.files import read_jsonl, read_jsonl_from

    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"a": 1}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"log.jsonl.*2.*expected a JSON object, got list"):
        read_jsonl(log)
    log.write_bytes(b'{"a": 1}\n{"b": \n')
    with pytest.raises(ValueError, match=r"not a JSON line \(Expecting value\)"):
        read_jsonl(log)
    log.write_bytes(b'{"a": 1}\n\x80abc\n')
    with pytest.raises(ValueError, match=r"log.jsonl: line at byte 9: not a JSON line \(.*invalid start byte"):
        read_jsonl_from(log)
    with pytest.raises(ValueError, match=r"log.jsonl:2: not a JSON line \(.*invalid start byte"):
        read_jsonl(log)  # a line that is not UTF-8 is named like any corrupt line


def test_restore_removes_temporary_files_of_killed_writes_and_says_which(tmp_path):
    run = TrainingRun.create("tmp", root=tmp_path)
    stale = [run.path / ".metadata.json.abc123.tmp", run.checkpoints_dir / ".latest.pt.xyz789.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    (run.path / ".keep.tmp").write_bytes(b"not ours")  # no random part: not a temporary file of ours
    resumed = TrainingRun.resume(run.path)
    with pytest.raises(RuntimeError, match=r"^restore\(\) needs acquire_lock\(\) first$"):
        resumed.restore(None)
    resumed.acquire_lock()
    notes = resumed.restore(None)
    resumed.release_lock()
    assert not any(p.exists() for p in stale) and (run.path / ".keep.tmp").exists()
    assert len(notes) == 1 and notes[0].startswith("removed 2 temporary file(s) of an interrupted write: ")
    assert sorted(notes[0].split(": ", 1)[1].split(", ")) == sorted(p.name for p in stale)


def test_the_lock_file_is_readable_by_all_and_writable_by_its_owner_only(tmp_path):
    import os
    import stat

    run = TrainingRun.create("lock", root=tmp_path)
    old = os.umask(0)
    try:
        run.acquire_lock()
    finally:
        os.umask(old)
    run.mark_lock_holder()
    assert stat.S_IMODE(run.lock_path.stat().st_mode) == 0o644
    assert run.lock_path.read_text() == f"{os.getpid()}\n"
    run.release_lock()


def test_an_agent_without_total_steps_is_refused_naming_it():
    class NoCount:
        def act(self, *a): ...
        def act_batch(self, *a): ...
        def observe(self, *a): ...
        def on_episode_end(self, *a): ...
        def save(self, *a): ...
        def load(self, *a): ...

    with pytest.raises(TypeError, match=r"lacks LearningAgent member\(s\): .*total_steps$"):
        TrainingSession(NoCount())


def test_random_agent_masks_need_a_discrete_space():
    agent = RandomAgent(gym.spaces.Box(-1, 1, shape=(2,)))
    with pytest.raises(TypeError, match="action masks need a Discrete action space, got Box"):
        agent.act_batch(np.zeros((1, 2)), masks=np.ones((1, 2), dtype=bool))
    masked = RandomAgent(gym.spaces.Discrete(3), seed=0)
    assert {masked.act(None, mask=np.array([False, True, False])) for _ in range(20)} == {1}


def test_a_copy_that_cannot_replace_its_target_names_it_and_leaves_no_temporary_file(tmp_path):
    from ecs_rl.core.files import WriteError, atomic_copy

    src = tmp_path / "a.pt"
    src.write_bytes(b"weights")
    target = tmp_path / "latest.pt"
    target.mkdir()  # a directory where the file should go
    with pytest.raises(WriteError, match="latest.pt"):
        atomic_copy(src, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "latest.pt"]
    atomic_copy(src, tmp_path / "copy.pt")
    assert (tmp_path / "copy.pt").read_bytes() == b"weights"
