"""Behaviours that mutation testing found unchecked in acting copies and the hand-written backward passes:
a DQN acting copy holds one replay row however large its config's buffer, an acting copy's network builds no
autograd graph, ``load`` without a version tags decisions 0 again, and the backward passes refuse networks of
other activations (a one-hidden-layer network too) with an error naming the ones they take."""

import tracemalloc

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoConfig
from ecs_rl.algorithms.acting import ActingCopy, acting_weights
from ecs_rl.algorithms.common import FlatParameters, mlp
from ecs_rl.algorithms.mlp_backward import ppo_backward, q_regression_backward

from test_algorithms_mutants import ACTIONS, BATCH, OBS
from test_algorithms_mutants5 import _ppo_pair


def _numpy_bytes_kept(build):
    """What ``build()`` leaves allocated in Python and numpy memory (torch tensors are not traced)."""
    tracing = tracemalloc.is_tracing()  # already on (PYTHONTRACEMALLOC): measure a difference, leave it on
    if not tracing:
        tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        built = build()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        if not tracing:
            tracemalloc.stop()
    return built, after - before


def test_a_dqn_acting_copy_holds_one_replay_row_whatever_its_buffer_size():
    wide = gym.spaces.Box(-1.0, 1.0, shape=(50_000,), dtype=np.float32)
    row = (2 * 50_000 + 4) * 4  # one replay row: obs, next obs and four float32 columns
    config = DqnConfig(hidden=(4,), buffer_size=100, batch_size=1, learning_starts=1, seed=0)
    # the measure sees a replay buffer: the learner itself holds all 100 rows
    _, learner_bytes = _numpy_bytes_kept(lambda: DqnAgent(wide, ACTIONS, config))
    assert learner_bytes >= 100 * row
    copy, copy_bytes = _numpy_bytes_kept(lambda: ActingCopy("dqn", wide, ACTIONS, config, seed=0))
    assert copy_bytes < 1.5 * row, f"an acting copy keeps {copy_bytes / row:.2f} replay rows"
    assert copy.act_batch(np.zeros((2, 50_000), np.float32)).shape == (2,)


@pytest.mark.parametrize("algorithm, config", [("dqn", DqnConfig(hidden=(8,), seed=3)),
                                               ("ppo", PpoConfig(hidden=(8,), seed=3))])
def test_an_acting_copys_network_builds_no_autograd_graph(algorithm, config):
    copy = ActingCopy(algorithm, OBS, ACTIONS, config, seed=0)
    obs = torch.from_numpy(BATCH)
    out = copy.network(obs) if algorithm == "dqn" else copy.network.logits(obs)
    assert not out.requires_grad and out.grad_fn is None
    assert not any(p.requires_grad for p in copy.network.parameters())


def test_load_without_a_version_tags_the_decisions_zero():
    learner, copy = _ppo_pair(version=5)
    copy.act_batch(BATCH[:2], agent_ids=[4, 9])
    assert copy.take(4)[3] == 5 and copy.version == 5
    copy.load(acting_weights(learner))  # new weights, no version given
    assert copy.version == 0
    copy.act_batch(BATCH[:2], agent_ids=[4, 9])
    assert copy.take(4)[3] == 0 and copy.take(9)[3] == 0


def _sigmoid_mlp(sizes):
    """An ``Mlp`` whose hidden activations are sigmoids: its plan is what forward and the backward passes run."""
    net = mlp(sizes, torch.nn.Tanh)
    net._plan = [(w, b, None if act is None else torch.sigmoid) for w, b, act in net._plan]
    return net


def test_q_regression_backward_refuses_a_one_hidden_layer_tanh_mlp():
    obs, actions, targets = torch.randn(5, 4), torch.randint(0, 2, (5, 1)), torch.randn(5)
    with pytest.raises(ValueError, match=r"^q_regression_backward needs an Mlp with relu activations$"):
        q_regression_backward(mlp((4, 8, 2), torch.nn.Tanh), obs, actions, targets)
    relu = mlp((4, 8, 2), torch.nn.ReLU)  # the same shape in ReLU is taken
    flat = FlatParameters(relu)
    q_regression_backward(relu, obs, actions, targets)
    assert flat.param.grad.abs().sum() > 0


@pytest.mark.parametrize("sizes", [(4, 8, 3), (4, 8, 8, 3)])
@pytest.mark.parametrize("odd", ["actor", "critic"])
def test_ppo_backward_refuses_other_activations_naming_the_two_it_takes(sizes, odd):
    n = 6
    nets = {"actor": mlp(sizes, torch.nn.Tanh), "critic": mlp(sizes[:-1] + (1,), torch.nn.ReLU)}
    nets[odd] = _sigmoid_mlp(sizes if odd == "actor" else sizes[:-1] + (1,))
    args = (torch.randn(n, 4), torch.randint(0, 3, (n,)), torch.zeros(n), torch.randn(n), torch.randn(n), 0.2, 0.5)
    with pytest.raises(ValueError) as refused:
        ppo_backward(nets["actor"], nets["critic"], *args)
    assert str(refused.value) == "ppo_backward needs an Mlp with relu or tanh activations"
