"""PPO's loss gradient on one minibatch against the clipped-surrogate loss written out here with autograd, on
every path ``_loss_backward`` takes: categorical actions without an entropy bonus (the written-out backward pass),
with one (0.5, and exactly 1.0), and Gaussian actions with and without one. The minibatch's ratios reach past both
ends of the clip range with advantages of both signs, so dropping either bound, or moving one, shows."""

import numpy as np
import pytest
import torch

from ecs_rl.algorithms import PpoAgent, PpoConfig

from test_algorithms_mutants import ACTIONS, OBS
from test_algorithms_mutants10 import BOX_ACTIONS

CLIP = 0.2
ROWS = 16


def _minibatch(agent: PpoAgent, continuous: bool):
    """Observations, actions, old log-probs whose ratios spread over [0.5, 1.6] (past 1 - CLIP and 1 + CLIP),
    advantages of both signs and returns."""
    rng = np.random.default_rng(3)
    obs = torch.from_numpy(rng.uniform(-1, 1, (ROWS, 3)).astype(np.float32))
    if continuous:
        actions = torch.from_numpy(rng.uniform(-1, 1, (ROWS, 2)).astype(np.float32))
    else:
        actions = torch.from_numpy(rng.integers(0, 3, ROWS))
    with torch.no_grad():
        logp, _ = agent.net.log_prob_entropy(obs, actions)
    ratios = torch.linspace(0.5, 1.6, ROWS)
    old = logp - ratios.log()
    adv = torch.tensor([1.0, -1.0] * (ROWS // 2)) * torch.linspace(0.5, 2.0, ROWS)
    returns = torch.from_numpy(rng.normal(0, 1, ROWS).astype(np.float32))
    return obs, actions, old, adv, returns


def _expected_grad(agent: PpoAgent, obs, actions, old, adv, returns, ent_coef: float) -> torch.Tensor:
    """The gradient of -mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) + vf_coef mean((V - R)^2) - ent_coef mean(H)."""
    logp, entropy = agent.net.log_prob_entropy(obs, actions, with_entropy_grad=True)
    ratio = (logp - old).exp()
    surrogate = torch.min(ratio * adv, ratio.clamp(1.0 - CLIP, 1.0 + CLIP) * adv)
    loss = (-surrogate.mean() + agent.config.vf_coef * ((agent.net.value(obs) - returns) ** 2).mean()
            - ent_coef * entropy.mean())
    grads = torch.autograd.grad(loss, list(agent.net.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


@pytest.mark.parametrize("continuous, ent_coef", [
    (False, 0.0), (False, 0.5), (False, 1.0), (True, 0.0), (True, 0.5), (True, 1.0),
], ids=["categorical", "categorical-entropy", "categorical-entropy-1", "gaussian", "gaussian-entropy",
        "gaussian-entropy-1"])
def test_ppo_loss_gradient_is_the_clipped_surrogates_with_value_and_entropy_terms(continuous, ent_coef):
    agent = PpoAgent(OBS, BOX_ACTIONS if continuous else ACTIONS,
                     PpoConfig(hidden=(8,), seed=2, ent_coef=ent_coef, clip_range=CLIP))
    batch = _minibatch(agent, continuous)
    expected = _expected_grad(agent, *batch, ent_coef)
    terms = agent._loss_backward(*batch, CLIP)
    got = agent.params.param.grad
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6), float((got - expected).abs().max())
    # the clip bites at both ends: some rows are clipped low, some high, the terms say so
    assert (terms.ratio < 1.0 - CLIP).any() and (terms.ratio > 1.0 + CLIP).any()
    assert torch.allclose(terms.clipped, terms.ratio.clamp(1.0 - CLIP, 1.0 + CLIP) * batch[3])


def test_ppo_entropy_bonus_changes_the_gradient_on_both_heads():
    """The entropy term is trained on: the same minibatch gives another gradient with an entropy bonus."""
    for continuous, space in ((False, ACTIONS), (True, BOX_ACTIONS)):
        grads = []
        for ent_coef in (0.0, 1.0):
            agent = PpoAgent(OBS, space, PpoConfig(hidden=(8,), seed=2, ent_coef=ent_coef, clip_range=CLIP))
            agent._loss_backward(*_minibatch(agent, continuous), CLIP)
            grads.append(agent.params.param.grad.clone())
        assert (grads[0] - grads[1]).abs().max() > 1e-4, continuous
