"""Behaviours that mutation testing found unchecked: RandomAgent's construction (its own seeded copy of the
space, the error for a non-space), the free-space check behind "no space left on device", and the run's
writer lock (who holds it, what a refused process is told, which lock file a failed open removes)."""

import errno
import os

import gymnasium as gym
import numpy as np
import pytest

import ecs_rl.core.run as run_module
from ecs_rl import Experience, RandomAgent, RunError, TrainingRun
from ecs_rl.core import files
from ecs_rl.core.files import write_error
from ecs_rl.core.run import RunLockedError

# -- RandomAgent.__init__ -----------------------------------------------------------------------


@pytest.mark.parametrize("bad, name", [([0, 1], "list"), (None, "NoneType"), (3, "int")])
def test_a_random_agent_refuses_a_non_space_naming_its_type(bad, name):
    with pytest.raises(TypeError, match=rf"^action_space must be a gymnasium space, got {name}$"):
        RandomAgent(bad)


def test_a_random_agent_seeds_its_own_copy_and_leaves_the_given_space_alone():
    shared = gym.spaces.Tuple((gym.spaces.Discrete(5), gym.spaces.Discrete(7)))
    shared.seed(1)
    before = [s.np_random.bit_generator.state for s in (shared, *shared.spaces)]
    agent = RandomAgent(shared, seed=2)
    assert agent.action_space is not shared and agent.action_space == shared
    assert all(a is not b for a, b in zip(agent.action_space.spaces, shared.spaces))
    assert [s.np_random.bit_generator.state for s in (shared, *shared.spaces)] == before


def test_the_same_seed_gives_the_same_actions_and_another_seed_other_ones():
    space = gym.spaces.Discrete(1000)

    def draws(seed):
        agent = RandomAgent(space, seed=seed)
        return [int(agent.act(None)) for _ in range(20)] + agent.act_batch(np.zeros((20, 1))).tolist()

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_a_new_random_agent_has_counted_nothing_and_counts_from_the_first_transition():
    agent = RandomAgent(gym.spaces.Discrete(2), seed=0)
    assert agent.total_steps == 0
    agent.observe(Experience(0, 1, 0.0, 0))  # no on_episode_start first: the episode count starts at zero too
    agent.observe(Experience(0, 0, 1.0, 0))
    assert agent.total_steps == 2


# -- files._disk_full, seen through write_error -------------------------------------------------


def test_an_error_without_errno_is_not_called_disk_full_where_free_space_cannot_be_read(tmp_path):
    path = tmp_path / "gone" / "latest.pt"  # its directory does not exist: statvfs fails
    assert str(write_error(path, RuntimeError("torch cannot write"))) == f"cannot write {path}: torch cannot write"


def test_an_error_without_errno_on_a_disk_with_room_keeps_its_own_words(tmp_path):
    path = tmp_path / "latest.pt"
    err = write_error(path, RuntimeError("torch cannot write"))
    assert str(err) == f"cannot write {path}: torch cannot write" and err.errno is None


def free_space(monkeypatch, blocks_available, block_size):
    """Make the file system report ``blocks_available`` free blocks of ``block_size`` bytes (a full disk cannot
    be made on demand)."""
    def statvfs(directory):
        return os.statvfs_result((block_size, block_size, 10**6, blocks_available, blocks_available,
                                  1000, 1000, 1000, 0, 255))
    monkeypatch.setattr(files.os, "statvfs", statvfs)


@pytest.mark.parametrize("blocks, block_size, full", [
    (15, 4096, True), (16, 4096, False),  # 61 440 and 65 536 bytes: under 64 KiB is full
    (65_535, 1, True), (65_536, 1, False), (65_537, 1, False), (66_559, 1, False), (0, 4096, True),
    (1, 65_536, False), (10**7, 4096, False),
])
def test_a_disk_is_full_under_64_kib_free(tmp_path, monkeypatch, blocks, block_size, full):
    free_space(monkeypatch, blocks, block_size)
    path = tmp_path / "metadata.json"
    reason = "no space left on device" if full else "boom"
    assert str(write_error(path, RuntimeError("boom"))) == f"cannot write {path}: {reason}"


# -- TrainingRun.acquire_lock / mark_lock_holder / release_lock ----------------------------------


def refusal(run):
    """The error a second TrainingRun object gets when it asks for ``run``'s lock (a flock is per open file,
    so one process shows what another process would see)."""
    other = TrainingRun.resume(run.path)
    with pytest.raises(RunLockedError) as info:
        other.acquire_lock()
    assert not other.locked
    return str(info.value)


def test_a_refused_writer_is_told_the_holder_pid_and_the_lock_file(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    run.acquire_lock()
    run.mark_lock_holder()
    assert run.lock_path.read_bytes() == f"{os.getpid()}\n".encode()
    assert refusal(run) == f"run {run.path} is in use: process {os.getpid()} is training in it (lock {run.lock_path})"
    run.release_lock()


def test_a_lock_not_yet_marked_names_an_unknown_holder(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    run.acquire_lock()
    assert run.locked and run.lock_path.read_bytes() == b""
    assert refusal(run) == f"run {run.path} is in use: process unknown is training in it (lock {run.lock_path})"
    run.release_lock()


def test_the_holder_shown_is_the_first_64_bytes_of_the_lock_file_decoded_leniently(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    run.lock_path.write_bytes(b"\xff" + b"7" * 100)  # not UTF-8, and longer than a pid
    run.acquire_lock()
    assert f"process \ufffd{'7' * 63} is training in it" in refusal(run)
    run.release_lock()


def test_acquiring_twice_keeps_the_lock_and_marking_replaces_an_old_holder(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    run.lock_path.write_text("123456789012\n")  # left by an earlier, longer pid
    run.acquire_lock()
    run.acquire_lock()  # already held: nothing happens
    assert run.locked
    run.mark_lock_holder()
    assert run.lock_path.read_text() == f"{os.getpid()}\n"
    assert f"process {os.getpid()} is training" in refusal(run)
    run.release_lock()
    assert not run.locked
    again = TrainingRun.resume(run.path)
    again.acquire_lock()  # released: free for the next writer
    again.release_lock()


def test_mark_lock_holder_before_acquire_lock_is_refused(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    with pytest.raises(RuntimeError, match=r"^mark_lock_holder\(\) needs acquire_lock\(\) first$"):
        run.mark_lock_holder()
    assert not run.lock_path.exists()


def test_undo_removes_a_lock_file_the_failed_open_created_and_nothing_else(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    assert not run.lock_path.exists()
    run.acquire_lock()
    run.release_lock(undo=True)  # created here and never used: no trace left
    assert not run.lock_path.exists()

    run.acquire_lock()
    run.mark_lock_holder()  # really used: the file stays, naming who trained here last
    run.release_lock(undo=True)
    assert run.lock_path.read_text() == f"{os.getpid()}\n"

    again = TrainingRun.resume(run.path)
    again.acquire_lock()  # the file was there before
    again.release_lock(undo=True)
    assert run.lock_path.read_text() == f"{os.getpid()}\n"


def test_a_lock_file_that_cannot_be_opened_is_named(tmp_path):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    run.lock_path.mkdir()  # a directory where the lock file should be
    with pytest.raises(RunError, match=rf"^run {run.path} cannot be locked: {run.lock_path}: Is a directory$"):
        run.acquire_lock()
    assert not run.locked


def test_a_lock_the_system_refuses_for_another_reason_is_not_called_in_use(tmp_path, monkeypatch):
    run = TrainingRun.create("g", "v1", root=tmp_path)
    taken = []

    def flock(fd, operation):
        taken.append(operation)
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))  # what a file system without locks answers

    fds_before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(run_module.fcntl, "flock", flock)
    with pytest.raises(RunError) as info:
        run.acquire_lock()
    assert type(info.value) is RunError
    assert str(info.value) == f"run {run.path} cannot be locked: {os.strerror(errno.ENOLCK)}"
    assert taken == [run_module.fcntl.LOCK_EX | run_module.fcntl.LOCK_NB] and not run.locked
    assert len(os.listdir("/proc/self/fd")) == fds_before  # the lock file's descriptor was closed
