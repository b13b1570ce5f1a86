"""DQN's single-observation act (explore or exploit, with or without a mask), its check of a batch's next masks
and the masks ``td_targets`` takes: behaviours the mutation run found unchecked."""

import numpy as np
import pytest

from ecs_rl import ActMode
from ecs_rl.algorithms import DqnAgent, DqnConfig

from test_algorithms import constant_head
from test_algorithms_mutants import ACTIONS, BATCH, OBS
from test_core_algorithms_mutants2 import _rows

PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # numpy's PCG64 LCG multiplier (128-bit)


def fixed_epsilon_agent(epsilon: float) -> DqnAgent:
    """A DQN agent whose epsilon stays at ``epsilon`` and whose greedy action is always 0."""
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), epsilon_start=epsilon, epsilon_end=epsilon))
    constant_head(agent.q_net, [9.0, 0.0, 0.0])
    return agent


def next_draw_is_zero(rng: np.random.Generator, high: int) -> None:
    """Set a PCG64 generator's state so that its next ``random()`` is exactly 0.0 (the state after the step has
    equal halves: the XSL-RR output is 0); ``high`` picks one of many such states."""
    state = rng.bit_generator.state
    after = (high << 64) | high
    state["state"]["state"] = (after - state["state"]["inc"]) * pow(PCG64_MULTIPLIER, -1, 1 << 128) % (1 << 128)
    rng.bit_generator.state = state


@pytest.mark.parametrize("mask", [None, np.array([True, False, True])])
def test_dqn_act_explores_in_explore_mode_only(mask):
    legal = [0, 1, 2] if mask is None else [0, 2]
    agent = fixed_epsilon_agent(1.0)
    explored = [agent.act(obs, ActMode.EXPLORE, mask=mask) for obs in np.tile(BATCH, (20, 1))]
    counts = np.bincount(explored, minlength=3)
    assert sorted(set(explored)) == legal  # epsilon 1: a uniformly random legal action
    assert counts[legal].min() > 0.2 * len(explored)
    assert [agent.act(obs, ActMode.EXPLOIT, mask=mask) for obs in BATCH] == [0] * len(BATCH)  # greedy always

    never = fixed_epsilon_agent(0.0)
    assert [never.act(obs, ActMode.EXPLORE, mask=mask) for obs in BATCH] == [0] * len(BATCH)  # epsilon 0: greedy


def test_dqn_act_with_epsilon_zero_stays_greedy_on_a_draw_of_exactly_zero():
    agent = fixed_epsilon_agent(0.0)
    probe = np.random.default_rng()
    for high in range(1, 9):
        probe.bit_generator.state = agent.explore_rng.bit_generator.state
        next_draw_is_zero(probe, high)
        assert probe.random() == 0.0
        next_draw_is_zero(agent.explore_rng, high)
        assert agent.act(BATCH[high], ActMode.EXPLORE) == 0  # explores with probability epsilon: never


@pytest.mark.parametrize("masks, got", [
    (np.ones((3, 3), dtype=np.int64), "got dtype int64 shape (3, 3)"),
    (np.ones((3, 2), dtype=bool), "got dtype bool shape (3, 2)"),
    (np.ones((2, 3), dtype=bool), "got dtype bool shape (2, 3)"),
])
def test_dqn_refuses_next_masks_of_another_dtype_or_shape_naming_both(masks, got):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), learning_starts=100))
    with pytest.raises(ValueError) as error:
        agent.observe_transitions(_rows(3, masks))
    assert str(error.value) == f"next_masks must be a bool array of shape (3, 3), {got}"
    assert agent.replay.size == 0 and agent.total_steps == 0  # refused before anything is stored


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.float32])
def test_dqn_td_targets_take_whole_number_masks_like_bool_ones(dtype):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), gamma=0.9))
    constant_head(agent.target_net, [2.0, 5.0, -1.0])
    masks = np.array([[1, 0, 1], [0, 0, 1], [0, 0, 0]])
    rewards, next_obs, terminated = [1.0, 1.0, 1.0], BATCH[:3], [0.0, 0.0, 1.0]
    as_numbers = agent.td_targets(rewards, next_obs, terminated, next_masks=masks.astype(dtype))
    as_bools = agent.td_targets(rewards, next_obs, terminated, next_masks=masks.astype(bool))
    assert as_numbers.tolist() == as_bools.tolist() == pytest.approx([1.0 + 0.9 * 2.0, 1.0 - 0.9, 1.0])
