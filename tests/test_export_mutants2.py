"""ONNX export details the round-trip tests leave open: the opset the file declares, and Box bounds of any
shape and float dtype clipped inside the graph (a float32 mean, one bound per coordinate)."""

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from exported import make_policy, observations

from ecs_rl.algorithms.export import ONNX_OPSET, export_policy, write_onnx
from ecs_rl.inference import OnnxPolicy, load_policy


def raw_outputs(path, obs: np.ndarray) -> np.ndarray:
    """The graph's output for ``obs`` as any onnxruntime user gets it (no ecs-rl wrapper)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"obs": obs})[0]


@pytest.mark.parametrize("kind", ["dqn", "ppo-box"])
def test_onnx_files_declare_the_exporters_opset_not_torchs_default(tmp_path, kind):
    # torch 2.13's exporter defaults to opset 20; ecs-rl writes ONNX_OPSET (17) so older runtimes read the file
    path = write_onnx(make_policy(kind, seed=2), tmp_path / "p.onnx")
    model = onnx.load(path)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", ONNX_OPSET)]
    assert isinstance(load_policy(path), OnnxPolicy)


def test_a_float64_box_exports_a_float32_graph_clipped_to_its_bounds(tmp_path):
    # both bounds must be cast to float32 in the graph, or its output (and OnnxPolicy's input check) turns float64
    low, high = np.array([-1.0, -0.5, 0.0]), np.array([1.0, 0.5, 2.0])
    policy = make_policy("ppo-box", seed=4, actions=gym.spaces.Box(low, high, dtype=np.float64))
    assert export_policy(policy, tmp_path / "f64.onnx")  # written, loaded back and compared
    obs = observations(2_000, seed=3) * 10
    raw = raw_outputs(tmp_path / "f64.onnx", obs)
    assert raw.dtype == np.float32 and raw.shape == (2_000, 3)
    assert (raw == low).any(axis=0).all() and (raw == high).any(axis=0).all()  # each coordinate meets both bounds
    assert ((raw > low) & (raw < high)).any(axis=0).all()
    loaded = load_policy(tmp_path / "f64.onnx")
    ours, torch_actions = loaded.act_batch(obs), policy.act_batch(obs)
    assert ours.dtype == torch_actions.dtype == np.float64
    np.testing.assert_allclose(ours, torch_actions, rtol=0, atol=1e-5)


def test_a_two_dimensional_box_exports_each_coordinates_own_bounds(tmp_path):
    low = np.array([[-1.0, -2.0], [0.0, -np.inf]], np.float32)
    high = np.array([[1.0, 0.5], [np.inf, 0.25]], np.float32)
    policy = make_policy("ppo-box", seed=6, actions=gym.spaces.Box(low, high, dtype=np.float32))
    assert export_policy(policy, tmp_path / "grid.onnx")
    obs = observations(2_000, seed=5) * 10
    raw = raw_outputs(tmp_path / "grid.onnx", obs)
    assert raw.shape == (2_000, 4)  # the flat mean, row-major as the network writes it
    assert (raw >= low.reshape(-1)).all() and (raw <= high.reshape(-1)).all()
    assert (raw == low.reshape(-1))[:, :3].any(axis=0).all() and (raw == high.reshape(-1))[:, [0, 1, 3]].any(axis=0).all()
    ours = load_policy(tmp_path / "grid.onnx").act_batch(obs)
    assert ours.shape == (2_000, 2, 2)
    np.testing.assert_allclose(ours, policy.act_batch(obs), rtol=0, atol=1e-5)
