"""Behaviours of DQN's agent, replay buffer and the greedy policy's loader that a mutation run found
unchecked: the observation-space error, rewards rounded to float32 once from float64 like ``observe``,
and a checkpoint naming an unknown algorithm."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig
from ecs_rl.algorithms.common import CheckpointError
from ecs_rl.algorithms.dqn import ReplayBuffer
from ecs_rl.algorithms.policy import GreedyPolicy
from ecs_rl.core.run import TrainingRun
from ecs_rl.core.types import Transitions

# 1 + 2**-24 + 2**-60 as a long double: rounded to float32 directly it is 1 + 2**-23; through float64
# (which drops the 2**-60) it is a tie that rounds to even, 1.0. Only x86's 80-bit long double holds it.
LONG = np.longdouble(1) + np.longdouble(2) ** -24 + np.longdouble(2) ** -60
needs_long = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="long double is no wider than float64")


def _agent() -> DqnAgent:
    return DqnAgent(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(2), DqnConfig(seed=0, learning_starts=1000))


def test_dqn_refuses_a_non_box_observation_space_naming_it():
    with pytest.raises(TypeError, match=r"^DQN observation_space must be a gymnasium Box space, got Discrete\(3\)$"):
        DqnAgent(gym.spaces.Discrete(3), gym.spaces.Discrete(2))
    with pytest.raises(TypeError, match=r"^DQN needs a Discrete action space, got Box\("):
        DqnAgent(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Box(-1, 1, (1,)))


@needs_long
def test_observe_transitions_and_observe_batch_store_rewards_as_observe_does():
    assert np.float32(LONG) != np.float32(np.float64(LONG))  # the two roundings differ for this reward
    one = _agent()
    one.observe(Experience(np.zeros(2), 1, LONG, np.ones(2), EpisodeStatus.RUNNING, agent_id=3))
    batch = _agent()
    batch.observe_batch([Experience(np.zeros(2), 1, LONG, np.ones(2), EpisodeStatus.RUNNING, agent_id=3)] * 2)
    arrays = _agent()
    arrays.observe_transitions(Transitions(np.zeros((2, 2)), np.array([1, 0]), np.array([LONG, -LONG]),
                                           np.ones((2, 2)), np.array([0, 1]), np.array([3, 4]),
                                           np.array([1, 1]), None))
    expected = np.float32(float(LONG))
    assert one.replay.rows[0, 5] == expected == 1.0
    assert list(batch.replay.rows[:2, 5]) == [expected, expected]
    assert list(arrays.replay.rows[:2, 5]) == [expected, -expected]
    assert list(arrays.replay.rows[:2, 4]) == [1, 0] and list(arrays.replay.terminated) == [0, 1]
    assert batch.replay.size == arrays.replay.size == 2 and batch.total_steps == 2


@needs_long
def test_add_many_rounds_each_value_to_float32_once_as_add_does():
    single, many = ReplayBuffer(4, 1, seed=0), ReplayBuffer(4, 1, seed=0)
    single.add(np.array([LONG]), 1, LONG, np.array([-LONG]), False, LONG)
    single.add(np.array([0.5]), 0, -LONG, np.array([2.0]), True, 0.25)
    many.add_many(np.array([[LONG], [0.5]]), np.array([1, 0]), np.array([LONG, -LONG]),
                  np.array([[-LONG], [2.0]]), np.array([False, True]), np.array([LONG, 0.25]))
    top = np.float32(LONG)
    assert top == np.float32(1 + 2.0 ** -23)
    np.testing.assert_array_equal(many.rows, single.rows)
    np.testing.assert_array_equal(many.rows[:2], [[top, -top, 1, top, 0, top], [0.5, 2, 0, -top, 1, 0.25]])
    assert (many.pos, many.size) == (single.pos, single.size) == (2, 2)


def test_greedy_policy_load_names_an_unknown_algorithm(tmp_path):
    agent = _agent()
    agent.save(tmp_path / "dqn.pt")
    data = torch.load(tmp_path / "dqn.pt", weights_only=True)
    data["algorithm"] = "sac"
    torch.save(data, tmp_path / "sac.pt")
    with pytest.raises(CheckpointError, match=r"^checkpoint .*sac\.pt holds an unknown algorithm 'sac'$"):
        GreedyPolicy.load(tmp_path / "sac.pt")
    assert GreedyPolicy.load(tmp_path / "dqn.pt").source == tmp_path / "dqn.pt"


def test_greedy_policy_load_of_a_run_without_checkpoints_or_of_no_run(tmp_path):
    run = TrainingRun.create("walk", "empty", root=tmp_path / "runs")
    with pytest.raises(CheckpointError, match=r"has no best\.pt; its checkpoints: none yet$"):
        GreedyPolicy.load(run.path)
    with pytest.raises(CheckpointError, match=r"has no step_5\.pt; its checkpoints: none yet$"):
        GreedyPolicy.load(run.path, which="step_5")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckpointError, match=r"^no run found under .*plain"):
        GreedyPolicy.load(tmp_path / "plain")


def test_replay_load_state_restores_rows_masks_position_and_draws_or_starts_empty():
    saved = ReplayBuffer(4, 1, seed=3, n_actions=2)
    for i in range(5):  # wraps: pos 1, size 4
        saved.add(np.array([i]), i % 2, float(i), np.array([-i]), i == 2, 0.5, np.array([True, i % 2 == 0]))
    state = saved.state(True)
    loaded = ReplayBuffer(4, 1, seed=99, n_actions=2)
    loaded.add(np.array([7.0]), 1, 7.0, np.array([7.0]), False, 0.5)
    loaded.load_state(state)
    assert (loaded.pos, loaded.size) == (1, 4)
    np.testing.assert_array_equal(loaded.rows, saved.rows)
    np.testing.assert_array_equal(loaded.next_masks, saved.next_masks)
    assert loaded.next_masks[:4].tolist() == [[True, True], [True, False], [True, True], [True, False]]
    for a, b in zip(loaded.sample(6, with_masks=True), saved.sample(6, with_masks=True)):
        assert torch.equal(a, b)
    loaded.load_state(saved.state(False))
    assert (loaded.pos, loaded.size, loaded.next_masks) == (0, 0, None)
    unmasked = ReplayBuffer(4, 1, seed=0, n_actions=2)
    unmasked.add(np.array([1.0]), 0, 1.0, np.array([2.0]), False, 0.5)
    loaded.load_state(unmasked.state(True))
    assert (loaded.pos, loaded.size, loaded.next_masks) == (1, 1, None)
    assert loaded.rows[0].tolist() == [1, 2, 0, 1, 0, 0.5]
