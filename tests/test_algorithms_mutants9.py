"""Export: the random observations of the exported file's check come from ``seed``, the unknown-extension
message names both formats, and the .onnx model's doc string points at its ``ecs_rl`` metadata."""

import gymnasium as gym
import numpy as np
import onnx
import pytest

from exported import make_policy

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
