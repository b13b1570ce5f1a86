"""Export: the random observations of the exported file's check come from ``seed``, the unknown-extension
message names both formats, and the .onnx model's doc string points at its ``ecs_rl`` metadata."""

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import onnx
import pytest
import torch

from exported import make_policy
from test_export import BLOCK

from ecs_rl.algorithms.export import ExportError, check_same_actions, check_target, export_policy

TWO = gym.spaces.Discrete(2)


def disagree_on_first_observation(a, b, seed):
    obs = np.random.default_rng(seed).normal(size=(1, a.obs_dim)).astype(np.float32)
    return bool((a.act_batch(obs) != b.act_batch(obs)).any())


def test_check_same_actions_draws_its_observations_from_seed(tmp_path):
    written, other = make_policy("dqn", seed=1, actions=TWO), make_policy("dqn", seed=6, actions=TWO)  # differ on ~56%
    path = tmp_path / "p.npz"
    export_policy(written, path, verify=0)
    outcomes = []
    for seed in range(16):
        expected = disagree_on_first_observation(written, other, seed)
        for _ in range(2):  # the same seed, the same observation, the same verdict
            if expected:
                with pytest.raises(ExportError, match=r"p\.npz: the exported policy acts differently .*on 1 random"):
                    check_same_actions(other, path, 1, seed=seed)
            else:
                assert check_same_actions(other, path, 1, seed=seed) is True
        outcomes.append(expected)
    assert 3 <= sum(outcomes) <= 13  # both verdicts occur: the seed decides which observation is drawn
    # the default seed is 0
    if disagree_on_first_observation(written, other, 0):
        with pytest.raises(ExportError, match="should not be used"):
            check_same_actions(other, path, 1)
    else:
        assert check_same_actions(other, path, 1) is True
    assert check_same_actions(written, path, 200) is True  # the file's own policy passes


def test_check_target_names_the_formats_and_what_loads_them(tmp_path):
    for name, shown in [("policy.pt", "'.pt'"), ("policy", "'(none)'")]:
        with pytest.raises(ExportError) as err:
            check_target(tmp_path / name)
        message = str(err.value)
        assert message.startswith(f"{tmp_path / name}: unknown extension {shown}; export to .npz")
        assert "(numpy, no extra needed to load)" in message
        assert message.endswith(" or .onnx (onnxruntime)")
    assert check_target(tmp_path / "P.NPZ") == "npz" and check_target(tmp_path / "p.Onnx") == "onnx"


def test_onnx_doc_string_names_the_metadata_key_that_holds_the_spaces(tmp_path):
    policy = make_policy("dqn", seed=3)
    export_policy(policy, tmp_path / "p.onnx", verify=0)
    model = onnx.load(str(tmp_path / "p.onnx"))
    keys = [prop.key for prop in model.metadata_props]
    assert keys == ["ecs_rl"]
    assert model.doc_string.startswith("ecs-rl dqn greedy policy: obs float32 [batch, 6] -> q_values float32 [batch, 5].")
    assert model.doc_string.endswith(f"Spaces in metadata '{keys[0]}'.")


def nudged(kind, seed, shift, actions=None):
    """``make_policy(kind, seed)`` with its last layer's first bias moved by ``shift``."""
    policy = make_policy(kind, seed=seed, actions=actions)
    with torch.no_grad():
        policy.network[-1].bias[0] += shift
    return policy


def test_discrete_check_allows_one_different_choice_in_a_thousand_not_two(tmp_path):
    path = tmp_path / "p.npz"
    export_policy(make_policy("dqn", seed=1, actions=TWO), path, verify=0)
    # on the 1 000 observations of seed 0 these nudges change exactly 1 and 2 choices
    assert check_same_actions(nudged("dqn", 1, 0.001, TWO), path, 1_000) is True
    with pytest.raises(ExportError, match=r"on 1000 random observations\); the file was written but should not"):
        check_same_actions(nudged("dqn", 1, 0.002, TWO), path, 1_000)


def test_box_check_compares_actions_within_a_tolerance(tmp_path):
    path = tmp_path / "p.npz"
    export_policy(make_policy("ppo-box", seed=1), path, verify=0)
    assert check_same_actions(nudged("ppo-box", 1, 2e-6), path, 500) is True  # not equal, but close
    with pytest.raises(ExportError, match="acts differently"):
        check_same_actions(nudged("ppo-box", 1, 1e-3), path, 500)


def test_an_onnx_file_without_onnxruntime_is_reported_unchecked(tmp_path):
    code = BLOCK.format(blocked={"onnxruntime"}) + (
        "from exported import make_policy; from ecs_rl.algorithms.export import export_policy, check_same_actions; "
        f"p = make_policy('dqn', seed=1); print(export_policy(p, {str(tmp_path / 'p.onnx')!r}), "
        f"check_same_actions(p, {str(tmp_path / 'p.onnx')!r}, 10))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
    assert (tmp_path / "p.onnx").stat().st_size > 0  # written, though not checked


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_onnx_graph_takes_and_gives_a_batch_of_any_size(tmp_path):
    export_policy(make_policy("ppo-discrete", seed=2), tmp_path / "p.onnx", verify=0)
    graph = onnx.load(str(tmp_path / "p.onnx")).graph
    assert [(v.name, dims(v)) for v in graph.input] == [("obs", ["batch", 6])]
    assert [(v.name, dims(v)) for v in graph.output] == [("logits", ["batch", 4])]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
