"""PPO's actor-critic acting: the greedy action of a Gaussian head (its mean) and of a categorical one on any
batch shape, sampling as a function of the generator it is given (Gaussian noise added, inverse CDF at float32
uniforms), and the extreme uniform draws (0.0 and the highest float32 below 1) that rounding makes edge
cases: a masked action is never drawn, an unmasked draw past a cdf rounding below 1 is still an action."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl import ActMode
from ecs_rl.algorithms import PpoAgent, PpoConfig
from ecs_rl.algorithms.ppo import ActorCritic

from test_algorithms_mutants import OBS
from test_algorithms_mutants10 import BOX_ACTIONS
from test_dqn_mutants2 import PCG64_MULTIPLIER, next_draw_is_zero
from test_ppo_mutants2 import OBS_BATCH, gaussian_net

NINE = gym.spaces.Discrete(9)
# two observations whose nine probabilities (seed 0's fresh policy) sum below 1 in float32, unmasked and with the
# first and last actions masked: a cdf built by cumsum ends short of 1 there
ROUNDING_ROWS = np.random.default_rng(0).uniform(-1, 1, (200, 3)).astype(np.float32)[[2, 19]]
EDGES_MASKED = np.tile([False] + [True] * 7 + [False], (2, 1))


def categorical_net() -> ActorCritic:
    torch.manual_seed(0)
    net = ActorCritic(3, 4, False, (8,), log_std_init=0.0)
    with torch.no_grad():
        net.actor[-1].weight.mul_(100.0)  # logits far from uniform: every action's share of [0, 1) differs
    return net


def float32_cdf_end(agent: PpoAgent, obs: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    """Each row's probabilities (exp of the log-softmax) summed in float32, in order: where a cumsum ends."""
    with torch.no_grad():
        logits = agent.net.logits(torch.from_numpy(obs), None if masks is None else torch.from_numpy(masks))
    return np.cumsum(np.exp(torch.log_softmax(logits, dim=-1).numpy()), axis=1, dtype=np.float32)[:, -1]


def next_draws_are_highest(rng: np.random.Generator) -> None:
    """Set a PCG64 generator's state so that its next two float32 ``random()`` draws are 1 - 2**-24, the highest
    below 1 (the state after the step has a high half below 2**58, so no rotation, and a low half its complement:
    the XSL-RR output is all ones)."""
    state = rng.bit_generator.state
    high = 12345
    after = (high << 64) | (~high & (1 << 64) - 1)
    state["state"]["state"] = (after - state["state"]["inc"]) * pow(PCG64_MULTIPLIER, -1, 1 << 128) % (1 << 128)
    state["has_uint32"] = 0
    rng.bit_generator.state = state


def test_a_box_policy_exploits_its_mean_clipped_to_the_space():
    agent = PpoAgent(OBS, BOX_ACTIONS, PpoConfig(hidden=(8,), seed=3))
    with torch.no_grad():
        agent.net.actor[-1].weight.mul_(300.0)  # means beyond the bounds for some rows, inside for others
        mean = agent.net.actor(OBS_BATCH).numpy()
        assert np.array_equal(agent.net.greedy(OBS_BATCH).numpy(), mean)
    acted = agent.act_batch(OBS_BATCH.numpy(), ActMode.EXPLOIT)
    assert acted.shape == (32, 2) and acted.dtype == np.float32
    assert (np.abs(mean) > 1).any() and (np.abs(mean) < 1).any()
    np.testing.assert_array_equal(acted, np.clip(mean, -1.0, 1.0))
    np.testing.assert_allclose(agent.act(OBS_BATCH[0].numpy(), ActMode.EXPLOIT), acted[0], atol=1e-6)


@pytest.mark.parametrize("shape", [(), (32,), (4, 8)], ids=["one observation", "batch", "stack of batches"])
def test_a_categorical_greedy_action_is_each_observations_argmax_whatever_the_batch_shape(shape):
    net = categorical_net()
    with torch.no_grad():
        flat = net.logits(OBS_BATCH).argmax(dim=1)
        greedy = net.greedy(OBS_BATCH.reshape(*shape, 3) if shape else OBS_BATCH[5])
    assert len(set(flat.tolist())) > 1
    assert greedy.shape == shape
    assert greedy.reshape(-1).tolist() == (flat.tolist() if shape else [flat[5].item()])


@pytest.mark.parametrize("shape", [(), (32,), (4, 8)], ids=["one observation", "batch", "stack of batches"])
def test_the_gaussian_head_samples_its_mean_plus_sigma_times_the_generators_noise(shape):
    net = gaussian_net()
    obs = OBS_BATCH.reshape(*shape, 3) if shape else OBS_BATCH[0]
    with torch.no_grad():
        actions, logp = net.sample(obs, np.random.default_rng(1))
        mean = net.logits(obs).numpy()
        want_logp, _ = net.log_prob_entropy(obs, torch.from_numpy(actions))
    noise = np.random.default_rng(1).standard_normal((*shape, 2), dtype=np.float32)
    assert actions.shape == (*shape, 2) and logp.shape == shape
    np.testing.assert_allclose(actions, mean + np.exp([-0.7, 0.4]) * noise, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(logp, want_logp.numpy(), rtol=1e-5, atol=1e-5)  # one figure per observation


def test_the_categorical_head_samples_the_first_action_whose_cdf_reaches_a_float32_uniform():
    net = categorical_net()
    obs = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, (64, 3)).astype(np.float32))
    with torch.no_grad():
        actions, logp = net.sample(obs, np.random.default_rng(3))
        probs = torch.softmax(net.logits(obs).double(), dim=-1).numpy()
    u = np.random.default_rng(3).random((64, 1), dtype=np.float32)
    want = (u > np.cumsum(probs, axis=1)).sum(axis=1)
    assert len(set(want.tolist())) == 4
    assert actions.tolist() == want.tolist()
    np.testing.assert_allclose(np.exp(logp), probs[np.arange(64), want], rtol=1e-5)


def test_a_uniform_draw_of_zero_never_samples_a_masked_action_even_where_the_cdf_rounds_below_one():
    agent = PpoAgent(OBS, NINE, PpoConfig(hidden=(8,), seed=0))
    assert (float32_cdf_end(agent, ROUNDING_ROWS, EDGES_MASKED) < 1).all()
    for high in (1, 2, 3):
        next_draw_is_zero(agent.sample_rng, high)
        probe = np.random.default_rng()
        probe.bit_generator.state = agent.sample_rng.bit_generator.state
        assert probe.random((2, 1), dtype=np.float32).tolist() == [[0.0], [0.0]]
        actions = agent.act_batch(ROUNDING_ROWS, ActMode.EXPLORE, masks=EDGES_MASKED)
        assert EDGES_MASKED[np.arange(2), actions].all(), actions
        assert all(np.isfinite(logp) and logp > -10 for _, _, logp, _ in agent._pending.values())


def test_the_highest_uniform_draw_past_a_cdf_rounding_below_one_samples_the_last_action():
    agent = PpoAgent(OBS, NINE, PpoConfig(hidden=(8,), seed=0))
    highest = np.float32(1 - 2**-24)
    assert (float32_cdf_end(agent, ROUNDING_ROWS) < highest).all()
    next_draws_are_highest(agent.sample_rng)
    probe = np.random.default_rng()
    probe.bit_generator.state = agent.sample_rng.bit_generator.state
    assert probe.random((2, 1), dtype=np.float32).tolist() == [[highest], [highest]]
    actions = agent.act_batch(ROUNDING_ROWS, ActMode.EXPLORE)
    assert actions.tolist() == [8, 8]
    with torch.no_grad():
        last = torch.log_softmax(agent.net.logits(torch.from_numpy(ROUNDING_ROWS)), dim=-1)[:, 8].numpy()
    assert [agent._pending[i][2] for i in (0, 1)] == pytest.approx(last.tolist())
