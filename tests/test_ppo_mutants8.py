"""PPO update behaviours a mutation run found unchecked: a rollout that fits one minibatch (``batch_size`` equal to
or above ``n_steps``) is not shuffled, so the shuffle generator is not drawn from, while a smaller minibatch draws
it; the advantages each minibatch trains on are normalised (mean 0, standard deviation 1) in both cases;
``max_grad_norm`` clips the gradient; and a checkpoint records the learning rate of the last update."""

import numpy as np
import pytest
import torch

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
