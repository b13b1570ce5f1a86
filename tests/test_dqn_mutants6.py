"""DQN behaviours a mutation run found unchecked: the target network stays out of autograd, the batched
epsilon-greedy rule (any numeric observations; epsilon 0 never explores), the whole error for negative
step counts, and a ``ReplayBuffer`` built with its defaults (gamma 0.99, no action masks)."""

import re

import numpy as np
import pytest
import torch

from ecs_rl import ActMode
from ecs_rl.algorithms import DqnAgent, DqnConfig
from ecs_rl.algorithms.dqn import ReplayBuffer

from test_algorithms_mutants import ACTIONS, BATCH, OBS
from test_dqn_mutants2 import fixed_epsilon_agent, next_draw_is_zero


def test_a_loss_through_the_target_network_trains_only_the_online_network():
    """The target network is frozen: a TD loss built on its output sends gradient into the online net only."""
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,)))
    obs, next_obs = torch.from_numpy(BATCH[:8]), torch.from_numpy(BATCH[8:])
    target = agent.target_net(next_obs)
    assert not target.requires_grad
    loss = (agent.q_net(obs) - target).pow(2).sum()
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in agent.target_net.parameters())
    assert any(p.grad.any() for p in agent.q_net.parameters())


@pytest.mark.parametrize("convert", [
    lambda batch: batch.astype(np.float64), lambda batch: batch.tolist(),
    lambda batch: np.rint(batch * 3).astype(np.int64),
], ids=["float64", "list", "int64"])
def test_act_batch_takes_any_numeric_observations_as_their_float32_values(convert):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(16,), seed=3))
    given = convert(BATCH)
    as_float32 = np.asarray(given, dtype=np.float32)
    greedy = agent.act_batch(as_float32, ActMode.EXPLOIT)
    assert len(set(greedy.tolist())) > 1  # the network tells the rows apart
    assert agent.act_batch(given, ActMode.EXPLOIT).tolist() == greedy.tolist()
    rng = np.random.default_rng(0)
    assert agent.epsilon_greedy(given, 0.0, rng).tolist() == greedy.tolist()


def zero_draw_rng(high: int) -> np.random.Generator:
    """A generator whose next ``random()`` is exactly 0.0 (checked on a copy)."""
    rng, probe = np.random.default_rng(high), np.random.default_rng()
    next_draw_is_zero(rng, high)
    probe.bit_generator.state = rng.bit_generator.state
    assert probe.random() == 0.0
    return rng


@pytest.mark.parametrize("mask", [None, np.array([[True, False, True]])])
def test_act_batch_with_epsilon_zero_stays_greedy_on_a_draw_of_exactly_zero(mask):
    """A row explores with probability epsilon: with epsilon 0 never, even on a uniform draw of 0.0."""
    agent = fixed_epsilon_agent(0.0)  # greedy action 0, epsilon 0
    for high in range(1, 9):
        obs = BATCH[high:high + 1]
        agent.explore_rng.bit_generator.state = zero_draw_rng(high).bit_generator.state
        assert agent.act_batch(obs, ActMode.EXPLORE, masks=mask).tolist() == [0]
        assert agent.epsilon_greedy(obs, 0.0, zero_draw_rng(high), mask).tolist() == [0]


@pytest.mark.parametrize("field", ["learning_starts", "epsilon_decay_steps"])
def test_a_negative_step_count_is_refused_with_the_whole_rule(field):
    with pytest.raises(ValueError) as error:
        DqnConfig(**{field: -1})
    assert re.fullmatch(r"DqnConfig\.learning_starts and epsilon_decay_steps must be >= 0", str(error.value))


def test_a_default_replay_buffer_reads_old_rows_as_discounted_by_gamma_0_99():
    """A state saved before the discount column holds one-tick rows: a buffer built without ``gamma``
    gives them DqnConfig's default discount, 0.99."""
    buffer = ReplayBuffer(capacity=4, obs_dim=1, seed=0)
    old_rows = torch.tensor([[0.0, 1.0, 1.0, 0.5, 0.0], [1.0, 2.0, 0.0, -0.5, 1.0]])  # obs, next, action, reward, term.
    buffer.load_state({**buffer.state(False), "rows": old_rows, "pos": 2, "size": 2})
    discounts = buffer.sample(16)[5]
    assert torch.equal(discounts, torch.full((16,), 0.99, dtype=torch.float32))
    assert DqnConfig().gamma == 0.99


@pytest.mark.parametrize("n_actions", [None, 1, 3])
def test_a_replay_buffer_samples_next_masks_n_actions_wide_none_without_n_actions(n_actions):
    """A terminal row's next mask is stored all-legal, ``n_actions`` wide; a buffer built without ``n_actions``
    (for games without masks) keeps no mask columns at all."""
    one = np.zeros(1, dtype=np.float32)
    buffer = ReplayBuffer(4, 1, seed=0) if n_actions is None else ReplayBuffer(4, 1, seed=0, n_actions=n_actions)
    buffer.add(one, 0, 1.0, one, True, 0.99, next_mask=np.zeros(n_actions or 1, dtype=bool))
    masks = buffer.sample(2, with_masks=True)[6]
    assert masks.dtype == torch.bool and masks.shape == (2, n_actions or 0)
    assert masks.all()
