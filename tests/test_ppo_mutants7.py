"""PPO's annealing behaviours a mutation run found unchecked: without ``anneal_lr`` an update steps at
``learning_rate`` exactly (each weight by at most it, the largest by about it), and with it at the rate times the
progress remaining; ``anneal_lr`` and ``anneal_clip`` each anneal their own figure only, an annealed agent training
exactly as one given the annealed figures outright; and clearing ``anneal_steps`` on a running agent stops the
annealing: it trains at the full rates."""

import pytest
import torch

from ecs_rl.algorithms import PpoAgent, PpoConfig

from test_algorithms_mutants import ACTIONS, OBS
from test_algorithms_mutants10 import _plain_rollout

N_STEPS = 8
HORIZON = 16  # anneal_steps: the first update, after N_STEPS transitions, has half the schedule left
LR, CLIP = 0.05, 0.2


def _trained(**overrides) -> PpoAgent:
    """An agent after its first update: one rollout of N_STEPS, several epochs of two minibatches (the clip bites)."""
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(**{"n_steps": N_STEPS, "batch_size": 4, "n_epochs": 4,
                                                "learning_rate": LR, "clip_range": CLIP, "hidden": (8,),
                                                "seed": 6, **overrides}))
    _plain_rollout(agent, N_STEPS)
    assert agent.updates == 1
    return agent


def _same_weights(a: PpoAgent, b: PpoAgent) -> bool:
    return torch.equal(a.params.param.detach(), b.params.param.detach())


@pytest.mark.parametrize("annealing, rate", [
    ({}, LR),
    ({"anneal_steps": HORIZON, "anneal_clip": True}, LR),  # the clip annealed, the learning rate not
    ({"anneal_steps": HORIZON, "anneal_lr": True}, LR * 0.5),
], ids=["none", "clip-only", "lr"])
def test_one_ppo_update_steps_at_the_learning_rate_annealed_only_with_anneal_lr(annealing, rate):
    # one epoch of one minibatch: a single Adam step, lr * g / (|g| + eps), so no weight moves by more than the
    # rate and the ones with the largest gradients by about it
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=N_STEPS, batch_size=N_STEPS, n_epochs=1, learning_rate=LR,
                                             hidden=(8,), seed=6, **annealing))
    before = agent.params.param.detach().clone()
    _plain_rollout(agent, N_STEPS)
    assert agent.updates == 1
    moved = float((agent.params.param.detach() - before).abs().max())
    assert rate * 0.95 <= moved <= rate + 1e-6  # float32 weights: a few ulps either way
    assert agent.optimizer.lr == rate


def test_annealing_the_clip_range_trains_as_the_annealed_clip_range_given_outright():
    annealed = _trained(anneal_steps=HORIZON, anneal_clip=True)
    assert _same_weights(annealed, _trained(clip_range=CLIP * 0.5))
    assert not _same_weights(annealed, _trained())  # the clip range tells: the full one trains otherwise
    assert annealed.optimizer.lr == LR


def test_annealing_the_learning_rate_trains_as_the_annealed_rate_given_outright_with_the_full_clip():
    annealed = _trained(anneal_steps=HORIZON, anneal_lr=True)
    assert _same_weights(annealed, _trained(learning_rate=LR * 0.5))
    # the same annealed rate under a halved clip range trains otherwise: the clip was left whole
    assert not _same_weights(annealed, _trained(learning_rate=LR * 0.5, clip_range=CLIP * 0.5))


def test_clearing_anneal_steps_on_a_running_agent_stops_the_annealing_at_the_full_rates():
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=N_STEPS, batch_size=4, n_epochs=4, learning_rate=LR,
                                             clip_range=CLIP, hidden=(8,), seed=6, anneal_steps=HORIZON,
                                             anneal_lr=True, anneal_clip=True))
    agent.config.anneal_steps = None  # no horizon any more: nothing of a schedule is used up
    _plain_rollout(agent, N_STEPS)
    assert agent.updates == 1 and agent.optimizer.lr == LR
    assert _same_weights(agent, _trained())
