"""PPO's actor-critic as built (orthogonal layers, a near-uniform first policy), the log-probabilities and
entropies of its two heads against torch's distributions, on any batch shape the Gaussian head takes, which of
them carry a gradient, and the error for a discount or GAE lambda outside [0, 1]."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl.algorithms import PpoAgent, PpoConfig
from ecs_rl.algorithms.ppo import ActorCritic

from test_algorithms_mutants import ACTIONS, OBS
from test_algorithms_mutants7 import _orthogonal_gain
from test_algorithms_mutants10 import BOX_ACTIONS

OBS_BATCH = torch.from_numpy(np.random.default_rng(4).uniform(-1, 1, (32, 3)).astype(np.float32))


def gaussian_net() -> ActorCritic:
    """A Gaussian head with two different log-stds, neither 0 (a sign or offset on log_std shows)."""
    torch.manual_seed(0)
    net = ActorCritic(3, 2, True, (8, 8), log_std_init=0.0)
    with torch.no_grad():
        net.log_std.copy_(torch.tensor([-0.7, 0.4]))
    return net


@pytest.mark.parametrize("space", [ACTIONS, BOX_ACTIONS], ids=["discrete", "box"])
def test_a_fresh_ppo_agent_has_orthogonal_layers_and_a_near_uniform_policy(space):
    agent = PpoAgent(OBS, space, PpoConfig(hidden=(16, 16), seed=5))
    actor = [m for m in agent.net.actor if isinstance(m, torch.nn.Linear)]
    critic = [m for m in agent.net.critic if isinstance(m, torch.nn.Linear)]
    # tanh hidden layers at gain sqrt(2); the policy's output layer at 0.01, the value's at 1
    assert [_orthogonal_gain(m.weight) for m in actor] == pytest.approx([math.sqrt(2), math.sqrt(2), 0.01], rel=1e-4)
    assert [_orthogonal_gain(m.weight) for m in critic] == pytest.approx([math.sqrt(2), math.sqrt(2), 1.0], rel=1e-4)
    assert all(not m.bias.any() for m in actor + critic)
    with torch.no_grad():
        out = agent.net.logits(OBS_BATCH)
        value = agent.net.value(OBS_BATCH)
    # the actor's last layer shrinks a hidden vector (norm <= 4 here) to norm <= 0.04: every first action
    # distribution is nearly uniform (Discrete) or centred on 0 (Box)
    assert out.norm(dim=-1).max() <= 0.01 * math.sqrt(16) + 1e-6
    if space is ACTIONS:
        probs = torch.softmax(out, dim=-1)
        assert torch.allclose(probs, torch.full_like(probs, 1 / 3), atol=0.02)
    assert value.abs().max() <= math.sqrt(16) + 1e-5 and value.abs().max() > 0.1  # gain 1: up to the hidden norm


def test_the_gaussian_heads_log_probs_and_entropy_are_a_diagonal_normals():
    net = gaussian_net()
    actions = torch.from_numpy(np.random.default_rng(5).normal(0, 1.5, (32, 2)).astype(np.float32))
    logp, entropy = net.log_prob_entropy(OBS_BATCH, actions)
    with torch.no_grad():
        dist = torch.distributions.Normal(net.logits(OBS_BATCH), net.log_std.exp())
    assert logp.shape == entropy.shape == (32,)
    assert torch.allclose(logp, dist.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(entropy, dist.entropy().sum(-1), atol=1e-5)
    # the entropy of N(mu, sigma) is 0.5 + 0.5 log(2 pi) + log sigma per dimension, whatever the observation
    assert torch.allclose(entropy, torch.full((32,), 2 * (0.5 + 0.5 * math.log(2 * math.pi)) - 0.3), atol=1e-5)


def test_the_categorical_heads_log_probs_and_entropy_are_a_categoricals_even_for_one_row():
    torch.manual_seed(0)
    net = ActorCritic(3, 4, False, (8,), log_std_init=0.0)
    with torch.no_grad():
        net.actor[-1].weight.mul_(200.0)  # logits far from uniform
        logits = net.logits(OBS_BATCH)
    dist = torch.distributions.Categorical(logits=logits)
    actions = torch.arange(32) % 4
    logp, entropy = net.log_prob_entropy(OBS_BATCH, actions)
    assert logp.shape == entropy.shape == (32,)
    assert torch.allclose(logp, dist.log_prob(actions), atol=1e-5)
    assert torch.allclose(entropy, dist.entropy(), atol=1e-5)
    one_logp, one_entropy = net.log_prob_entropy(OBS_BATCH[:1], actions[:1])
    assert one_logp.shape == one_entropy.shape == (1,)
    assert torch.allclose(one_logp, logp[:1]) and torch.allclose(one_entropy, entropy[:1])


@pytest.mark.parametrize("shape", [(), (4,), (2, 4)], ids=["one observation", "batch", "stack of batches"])
def test_the_gaussian_head_scores_each_observation_whatever_the_batch_shape(shape):
    net = gaussian_net()
    obs = OBS_BATCH[:max(1, math.prod(shape))]
    actions = torch.from_numpy(np.random.default_rng(6).normal(0, 1, (len(obs), 2)).astype(np.float32))
    with torch.no_grad():
        flat_logp, flat_entropy = net.log_prob_entropy(obs, actions)
        logp, entropy = net.log_prob_entropy(obs.reshape(*shape, 3), actions.reshape(*shape, 2))
    assert logp.shape == entropy.shape == shape  # one figure per observation, summed over the action's dims
    assert torch.allclose(logp.reshape(-1), flat_logp) and torch.allclose(entropy.reshape(-1), flat_entropy)


@pytest.mark.parametrize("continuous", [True, False], ids=["box", "discrete"])
def test_the_entropy_carries_a_gradient_only_when_trained_on(continuous):
    torch.manual_seed(0)
    net = ActorCritic(3, 2, continuous, (8,), log_std_init=-0.3)
    actions = torch.zeros(32, 2) if continuous else torch.zeros(32, dtype=torch.long)
    logp, entropy = net.log_prob_entropy(OBS_BATCH, actions)
    assert logp.requires_grad and entropy.requires_grad
    if continuous:  # d/d log_std of the summed entropy: one per row and dimension
        (grad,) = torch.autograd.grad(entropy.sum(), net.log_std)
        assert torch.equal(grad, torch.full((2,), 32.0))
    logp, entropy = net.log_prob_entropy(OBS_BATCH, actions, with_entropy_grad=False)
    assert logp.requires_grad and not entropy.requires_grad
    with torch.no_grad():
        logp, entropy = net.log_prob_entropy(OBS_BATCH, actions)
    assert not logp.requires_grad and not entropy.requires_grad


@pytest.mark.parametrize("kwargs", [
    {"gamma": 1.01}, {"gamma": -0.01}, {"gae_lambda": 1.01}, {"gae_lambda": 1.5}, {"gae_lambda": -0.01},
])
def test_ppo_config_refuses_a_gamma_or_gae_lambda_outside_0_1_in_one_named_line(kwargs):
    with pytest.raises(ValueError, match=r"^PpoConfig\.gamma and gae_lambda must be in \[0, 1\]$"):
        PpoConfig(**kwargs)
