"""PPO's ``act`` and construction behaviours a mutation run found unchecked: exploiting takes the mode of the
distribution and records nothing, a Box action comes back as an array of the space and a Discrete one as a plain
int, a plain list of large ints is cast to float32 as ``act_batch`` casts it (DQN's masked ``act`` too),
``adam_eps`` reaches the optimizer, sampling and minibatch shuffling draw from two independent streams, and
``hold_updates`` starts as the bool False."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig

from test_algorithms_mutants import ACTIONS, BATCH, OBS
from test_algorithms_mutants10 import _plain_rollout
from test_dqn_mutants3 import NANOS

WIDE1 = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
TWO = gym.spaces.Discrete(2)


def _tells_float32_neighbours_of_2_60_apart(linear: torch.nn.Linear) -> None:
    """A one-layer head scoring [x - 2**60, 1]: action 1 for x = 2**60, action 0 for its float32 neighbour
    2**60 + 2**37 above."""
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0], [0.0]]))
        linear.bias.copy_(torch.tensor([-(2.0 ** 60), 1.0]))


# -- act: exploit ------------------------------------------------------------------------------------------------


def test_ppo_act_in_exploit_mode_takes_the_most_likely_action_and_records_no_decision():
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), seed=3))
    greedy = agent.to_policy()
    draws = agent.sample_rng.bit_generator.state
    chosen = [[agent.act(row, ActMode.EXPLOIT, agent_id=7) for _ in range(5)] for row in BATCH]
    # the first policy is near uniform: sampling would wander over all three actions; the mode does not
    assert chosen == [[greedy.act(row)] * 5 for row in BATCH]
    assert len({c[0] for c in chosen}) > 1  # the rows differ in their argmax, so the check is not one constant
    assert agent.sample_rng.bit_generator.state == draws  # nothing drawn
    with pytest.raises(RuntimeError, match=r"agent 7 without an explore-mode act"):
        agent.observe(Experience(BATCH[0], chosen[0][0], 1.0, BATCH[1], EpisodeStatus.RUNNING, agent_id=7))


# -- act: return types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1,), (2,)])
@pytest.mark.parametrize("mode", [ActMode.EXPLORE, ActMode.EXPLOIT])
def test_ppo_act_on_a_box_space_returns_an_array_of_the_space_as_act_batch_does(shape, mode):
    space = gym.spaces.Box(-0.5, 0.5, shape=shape, dtype=np.float32)
    agent = PpoAgent(OBS, space, PpoConfig(hidden=(8,), seed=4, log_std_init=1.0))
    twin = PpoAgent(OBS, space, PpoConfig(hidden=(8,), seed=4, log_std_init=1.0))
    for row in BATCH[:6]:
        action = agent.act(row, mode)
        assert isinstance(action, np.ndarray) and action.shape == shape and action.dtype == np.float32
        assert space.contains(action)
        assert np.array_equal(action, twin.act_batch(row[None], mode)[0])


@pytest.mark.parametrize("mode", [ActMode.EXPLORE, ActMode.EXPLOIT])
def test_ppo_act_on_a_discrete_space_returns_a_plain_int_that_json_writes(mode):
    space = gym.spaces.Discrete(3, start=-1)
    agent = PpoAgent(OBS, space, PpoConfig(hidden=(8,), seed=5))
    actions = [agent.act(row, mode) for row in BATCH[:6]]
    assert all(type(a) is int and space.contains(a) for a in actions)
    assert json.loads(json.dumps(actions)) == actions


# -- act: the float32 cast ---------------------------------------------------------------------------------------


def test_ppo_act_casts_a_list_of_python_ints_to_float32_as_act_batch_does():
    """A nanosecond clock (about 2**60) in a plain list: one row through ``act`` and through ``act_batch``
    round to the same float32, so both choose the same action."""
    agent = PpoAgent(WIDE1, TWO, PpoConfig(hidden=(), seed=0))
    _tells_float32_neighbours_of_2_60_apart(agent.net.actor[0])
    assert agent.act([2 ** 60], ActMode.EXPLOIT) == 1 and agent.act([2 ** 60 + 2 ** 37], ActMode.EXPLOIT) == 0
    for stamp in (NANOS, 2 ** 60 + 2 ** 36, 2 ** 60 + 2 ** 37 - 1):
        assert agent.act([stamp], ActMode.EXPLOIT) == agent.act_batch([[stamp]], ActMode.EXPLOIT)[0]


def test_dqn_act_with_a_mask_casts_a_list_of_python_ints_as_without_one_and_as_act_batch():
    agent = DqnAgent(WIDE1, TWO, DqnConfig(hidden=(), seed=0))
    _tells_float32_neighbours_of_2_60_apart(agent.q_net[0])
    legal = np.ones(2, dtype=bool)
    assert agent.act([2 ** 60], ActMode.EXPLOIT, mask=legal) == 1
    assert agent.act([2 ** 60 + 2 ** 37], ActMode.EXPLOIT, mask=legal) == 0
    for stamp in (NANOS, 2 ** 60 + 2 ** 36, 2 ** 60 + 2 ** 37 - 1):
        want = agent.act_batch([[stamp]], ActMode.EXPLOIT)[0]
        assert agent.act([stamp], ActMode.EXPLOIT, mask=legal) == agent.act([stamp], ActMode.EXPLOIT) == want


# -- construction ------------------------------------------------------------------------------------------------


def _moved_by_one_update(adam_eps):
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=8, batch_size=8, n_epochs=1, learning_rate=1e-2,
                                             adam_eps=adam_eps, hidden=(8,), seed=6))
    before = agent.params.param.detach().clone()
    _plain_rollout(agent, 8)
    assert agent.updates == 1
    return float((agent.params.param.detach() - before).abs().max())


def test_ppo_adam_eps_damps_the_update_steps():
    # Adam's first step is lr * g / (|g| + eps): about lr with a small eps, far less with an eps above every
    # (clipped, norm <= 0.5) gradient
    small, large = _moved_by_one_update(1e-5), _moved_by_one_update(100.0)
    assert small == pytest.approx(1e-2, rel=0.05)
    assert 0.0 < large < 1e-2 * small


@pytest.mark.parametrize("seed", [0, 1, 9])
def test_ppo_samples_and_shuffles_from_two_independent_streams_of_its_seed(seed):
    one, other = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), seed=seed)), PpoAgent(OBS, ACTIONS, PpoConfig(seed=seed))
    samples, shuffles = one.sample_rng.random(16), one.shuffle_rng.random(16)
    assert not np.isclose(samples[:, None], shuffles[None, :]).any()  # no shared draws, at any lag
    assert np.array_equal(other.sample_rng.random(16), samples)  # the seed alone fixes both streams
    assert np.array_equal(other.shuffle_rng.random(16), shuffles)


def test_ppo_hold_updates_is_false_until_set_and_observe_then_updates_when_due():
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=4, batch_size=4, n_epochs=1, hidden=(8,), seed=7))
    assert agent.hold_updates is False
    _plain_rollout(agent, 4)
    assert agent.updates == 1
    agent.hold_updates = True
    _plain_rollout(agent, 4)
    assert agent.updates == 1 and agent.update_if_due() and agent.updates == 2
