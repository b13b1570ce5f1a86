"""GreedyPolicy.act's return types and cast, the checkpoints GreedyPolicy.load lists when one is missing, and the
observation count export_policy's check names by default."""

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from exported import make_policy, observations
from test_algorithms_mutants import ACTIONS, OBS

from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, GreedyPolicy
from ecs_rl.algorithms.common import CheckpointError
from ecs_rl.algorithms.export import ExportError, export_policy

# -- act ---------------------------------------------------------------------------------------------------------


def test_act_on_a_discrete_space_returns_a_plain_int_that_json_writes():
    policy = make_policy("dqn", seed=3)  # Discrete(5, start=1)
    obs = observations(8, seed=3)
    for row, want in zip(obs, policy.act_batch(obs)):
        action = policy.act(row)
        assert type(action) is int and action == want  # not numpy's int64, which json refuses
        assert json.loads(json.dumps({"action": action})) == {"action": int(want)}


def test_act_on_a_box_space_returns_the_clipped_mean_action_as_an_array_of_the_space():
    policy = make_policy("ppo-box", seed=5)  # BOX3: three coordinates, each with its own bounds
    obs = observations(8, seed=5)
    batch = policy.act_batch(obs)
    assert batch.shape == (8, 3)
    for row, want in zip(obs, batch):
        action = policy.act(row)
        assert isinstance(action, np.ndarray) and action.shape == (3,) and action.dtype == np.float32
        assert policy.action_space.contains(action)
        np.testing.assert_allclose(action, want, rtol=1e-5, atol=1e-6)  # one row or many: the same up to rounding


def test_act_casts_an_observation_of_python_ints_to_float32_as_act_batch_does():
    """A large integer feature (a nanosecond clock: about 2**60) in a plain list: ``act`` and ``act_batch``
    convert it to float32 the same way, so the single and the batched call choose the same action. The
    network tells the two float32 neighbours of the value apart (action 1 for 2**60, 0 for 2**60 + 2**37)."""
    network = nn.Sequential(nn.Linear(1, 2))
    with torch.no_grad():
        network[0].weight.copy_(torch.tensor([[1.0], [0.0]]))
        network[0].bias.copy_(torch.tensor([-(2.0 ** 60), 1.0]))
    policy = GreedyPolicy(network, 1, gym.spaces.Discrete(2))
    assert policy.act([2 ** 60]) == 1 and policy.act([2 ** 60 + 2 ** 37]) == 0
    for stamp in (2 ** 60 + 2 ** 36 + 1, 2 ** 60 + 2 ** 36, 2 ** 60 + 2 ** 37 - 1):
        assert policy.act([stamp]) == policy.act_batch([[stamp]])[0]


# -- load --------------------------------------------------------------------------------------------------------


def test_load_of_a_missing_checkpoint_lists_each_one_the_run_holds_comma_separated(tmp_path):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=5))
    run = TrainingRun.create("walk", "held", root=tmp_path)
    session = TrainingSession(agent).with_run(run)
    assert session.maybe_save_best(1.0)
    session.save_checkpoint()
    session.close()
    assert sorted(p.name for p in (run.path / "checkpoints").glob("*.pt")) == ["best.pt", "latest.pt", "step_0.pt"]
    with pytest.raises(CheckpointError, match=r"has no step_9\.pt; its checkpoints: best, latest, step_0$"):
        GreedyPolicy.load(run.path, which="step_9")


# -- export_policy -----------------------------------------------------------------------------------------------


def test_export_policy_checks_on_1000_observations_by_default_and_names_the_count(tmp_path):
    """A diverged Box policy (NaN mean actions): its .onnx file acts as its network does, NaN is not close to
    NaN, so the check refuses the file, naming the 1 000 observations it drew."""
    policy = make_policy("ppo-box", seed=1)
    with torch.no_grad():
        policy.network[-1].bias.fill_(math.nan)
    with pytest.raises(ExportError, match=r"p\.onnx: the exported policy acts differently from the checkpoint's "
                                          r"network \(on 1000 random observations\); the file was written"):
        export_policy(policy, tmp_path / "p.onnx")
    assert (tmp_path / "p.onnx").is_file()
