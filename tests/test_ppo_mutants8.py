"""PPO update behaviours a mutation run found unchecked: a rollout that fits one minibatch (``batch_size`` equal to
or above ``n_steps``) is not shuffled, so the shuffle generator is not drawn from, while a smaller minibatch draws
it; the advantages each minibatch trains on are normalised (mean 0, standard deviation 1) in both cases;
advantages far below the normalisation's epsilon keep their direction (the epsilon is added to the standard
deviation); ``max_grad_norm`` clips the gradient; and a checkpoint records the learning rate of the last update."""

import numpy as np
import pytest
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import PpoAgent, PpoConfig

from test_algorithms_mutants import ACTIONS, OBS
from test_algorithms_mutants10 import _plain_rollout

N_STEPS = 8


def _agent(**overrides) -> PpoAgent:
    return PpoAgent(OBS, ACTIONS, PpoConfig(**{"n_steps": N_STEPS, "batch_size": N_STEPS, "n_epochs": 2,
                                               "learning_rate": 0.05, "hidden": (8,), "seed": 6, **overrides}))


def _update(agent: PpoAgent) -> None:
    _plain_rollout(agent, N_STEPS)
    assert agent.updates == 1


@pytest.mark.parametrize("batch_size, drawn", [(N_STEPS, False), (N_STEPS + 3, False), (N_STEPS // 2, True)],
                         ids=["exactly-one-minibatch", "larger", "two-minibatches"])
def test_only_a_rollout_split_into_minibatches_draws_the_shuffle_generator(batch_size, drawn):
    agent = _agent(batch_size=batch_size)
    before = agent.shuffle_rng.bit_generator.state
    _update(agent)
    assert (agent.shuffle_rng.bit_generator.state != before) == drawn


@pytest.mark.parametrize("batch_size", [N_STEPS, N_STEPS // 2], ids=["one-minibatch", "two-minibatches"])
def test_each_minibatch_trains_on_advantages_normalised_to_mean_0_and_std_1(batch_size):
    agent = _agent(batch_size=batch_size)
    seen = []
    loss_backward = agent._loss_backward

    def recording(obs, actions, old_logps, adv, *rest):
        seen.append(adv.clone())
        return loss_backward(obs, actions, old_logps, adv, *rest)

    agent._loss_backward = recording
    _update(agent)
    assert len(seen) == 2 * N_STEPS // batch_size
    for adv in seen:
        assert float(adv.mean()) == pytest.approx(0.0, abs=1e-6)
        assert float(adv.std()) == pytest.approx(1.0, abs=1e-5)


def test_max_grad_norm_clips_the_gradient_of_each_step():
    # Adam divides by the gradients' running size, so clipping tells over several steps of different sizes
    unclipped = _agent(batch_size=N_STEPS // 2, n_epochs=4, max_grad_norm=None)
    clipped = _agent(batch_size=N_STEPS // 2, n_epochs=4, max_grad_norm=1e-3)
    loose = _agent(batch_size=N_STEPS // 2, n_epochs=4, max_grad_norm=1e6)
    for agent in (unclipped, clipped, loose):
        _update(agent)
    assert torch.equal(unclipped.params.param.detach(), loose.params.param.detach())
    assert not torch.allclose(unclipped.params.param.detach(), clipped.params.param.detach(), atol=1e-4)


def test_a_checkpoint_records_the_learning_rate_of_the_last_update(tmp_path):
    agent = _agent(learning_rate=0.03)
    _update(agent)
    agent.save(tmp_path / "ppo.pt")
    last = torch.load(tmp_path / "ppo.pt", weights_only=True)["last_update"]
    assert last["learning_rate"] == 0.03
    assert np.isfinite(last["policy_loss"])


def _actor_step(batch_size: int, reward_scale: float) -> torch.Tensor:
    """How an update moves the actor's weights, the critic predicting 0 everywhere so that the advantages are
    discounted sums of the rewards (``reward_scale`` for action 2, else 0)."""
    agent = _agent(batch_size=batch_size, n_epochs=1, learning_rate=1e-3)
    with torch.no_grad():
        agent.net.critic[2].weight.zero_()
        agent.net.critic[2].bias.zero_()
    actor = sum(p.numel() for p in agent.net.actor.parameters())
    before = agent.params.param.detach()[:actor].clone()
    rng = np.random.default_rng(5)
    for _ in range(N_STEPS):
        obs = rng.uniform(-1, 1, 3).astype(np.float32)
        action = agent.act(obs, ActMode.EXPLORE)
        agent.observe(Experience(obs, action, reward_scale * float(action == 2),
                                 rng.uniform(-1, 1, 3).astype(np.float32), EpisodeStatus.RUNNING))
    assert agent.updates == 1
    return agent.params.param.detach()[:actor] - before


@pytest.mark.parametrize("batch_size", [N_STEPS, N_STEPS // 2], ids=["one-minibatch", "two-minibatches"])
def test_advantages_far_below_the_normalisation_epsilon_push_the_policy_the_same_way_as_large_ones(batch_size):
    # standard deviations of about 1e-9: normalised they shrink (std / (std + 1e-8)) but keep their sign, so
    # Adam moves every actor weight the same way as with rewards a million times larger
    tiny, large = _actor_step(batch_size, 1e-9), _actor_step(batch_size, 1e-3)
    assert float(large.abs().max()) > 5e-4
    assert float((tiny * large).sum()) > 0.5 * float((large * large).sum())
