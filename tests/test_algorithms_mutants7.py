"""Behaviours of the torch agents' shared pieces (``ecs_rl.algorithms.common``) that a mutation run found
unchecked: the MLP's layers and initialisation, the flat parameters and Adam, torch's settings as read,
spaces as checkpoint data, legal-action sampling, RNG state, and every error of reading a checkpoint."""

import math
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from test_algorithms import Exploit

from ecs_rl.algorithms.common import (
    CheckpointError, FlatAdam, FlatParameters, Mlp, action_space_from_dict, action_space_to_dict, box_dim,
    check_shapes, legal_masks, load_checkpoint, mlp, numpy_rng_state, sample_legal, save_checkpoint,
    seeded_module, set_numpy_rng_state, torch_settings,
)


def test_box_dim_is_the_flat_size_and_refuses_other_spaces():
    assert box_dim(gym.spaces.Box(0, 1, (3, 4)), "obs") == 12
    assert type(box_dim(gym.spaces.Box(0, 1, (2,)), "obs")) is int
    with pytest.raises(TypeError, match=r"^observation space must be a gymnasium Box space, got Discrete\(3\)$"):
        box_dim(gym.spaces.Discrete(3), "observation space")


def _orthogonal_gain(weight: torch.Tensor) -> float:
    """The gain g of an orthogonally initialised weight (its rows or columns are orthogonal, each of norm g)."""
    w = weight.detach().double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    gain = math.sqrt(gram[0, 0].item())
    assert torch.allclose(gram, gain**2 * torch.eye(len(gram), dtype=torch.float64), atol=1e-5)
    return gain


def test_mlp_layers_orthogonal_init_and_forward():
    torch.manual_seed(0)
    net = mlp((3, 5, 4, 2), nn.Tanh, out_gain=0.01)
    assert isinstance(net, Mlp)
    assert [type(m) for m in net] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    linears = [net[0], net[2], net[4]]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 5), (5, 4), (4, 2)]
    gains = [_orthogonal_gain(m.weight) for m in linears]
    assert gains == pytest.approx([math.sqrt(2), math.sqrt(2), 0.01], rel=1e-4)
    assert all(not m.bias.any() for m in linears)
    x = torch.randn(7, 3) * 3
    assert torch.allclose(net(x), nn.Sequential.forward(net, x), atol=1e-6)  # tanh between layers, none after
    one = mlp((3, 2), nn.ReLU, out_gain=2.0)  # a single layer is the last one: out_gain, no activation
    assert [type(m) for m in one] == [nn.Linear] and _orthogonal_gain(one[0].weight) == pytest.approx(2.0, rel=1e-4)


def test_mlp_without_out_gain_keeps_torchs_default_init_and_relu_forward():
    torch.manual_seed(1)
    net = mlp((4, 8, 3), nn.ReLU)
    torch.manual_seed(1)
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    assert net.state_dict().keys() == plain.state_dict().keys()
    for (k, a), b in zip(net.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), k  # torch's own init, drawn in the same order: biases not zeroed
    x = torch.randn(50, 4) * 3
    out = net(x)
    assert torch.equal(out, plain(x))
    assert (out < 0).any()  # no relu after the last layer
    with torch.no_grad():
        plain[0].weight.neg_()  # the forward reads the live parameters
        net[0].weight.neg_()
    assert torch.equal(net(x), plain(x))


def test_flat_parameters_view_every_parameter_in_order_with_one_gradient():
    torch.manual_seed(2)
    net = mlp((3, 4, 2), nn.ReLU)
    before = [p.detach().clone() for p in net.parameters()]
    flat = FlatParameters(net)
    assert torch.equal(flat.param.detach(), torch.cat([p.reshape(-1) for p in before]))
    assert flat.param.grad is not None and flat.param.grad.shape == flat.param.shape and not flat.param.grad.any()
    assert [p.shape for p in net.parameters()] == [b.shape for b in before]
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))
    with torch.no_grad():
        flat.param.data[:] = torch.arange(len(flat.param), dtype=torch.float32)
    assert net[0].weight[0, 0].item() == 0.0 and net[2].bias[-1].item() == len(flat.param) - 1
    assert net[0].bias[0].item() == 12.0 and net[2].weight[0, 0].item() == 16.0  # 3x4 weight, 4 bias, 4x2 weight
    x = torch.randn(5, 3)
    net(x).sum().backward()
    grads = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert grads.any() and torch.equal(flat.param.grad, grads)  # autograd wrote into the one gradient
    flat.zero_grad()
    assert not flat.param.grad.any() and not any(p.grad.any() for p in net.parameters())


def test_clip_grad_norm_scales_to_max_norm_with_torchs_epsilon_and_never_up():
    flat = FlatParameters(nn.Linear(2, 1, bias=False))
    flat.param.grad.copy_(torch.tensor([3e-6, 4e-6]))  # norm 5e-6: the 1e-6 in the divisor shows
    flat.clip_grad_norm(1e-6)
    expected = torch.tensor([3e-6, 4e-6]) * (1e-6 / (5e-6 + 1e-6))
    assert torch.allclose(flat.param.grad, expected, rtol=1e-5, atol=0)
    flat.param.grad.copy_(torch.tensor([3.0, 4.0]))
    flat.clip_grad_norm(1.0)
    assert torch.allclose(flat.param.grad, torch.tensor([0.6, 0.8]), rtol=1e-5)
    flat.param.grad.copy_(torch.tensor([3.0, 4.0]))
    flat.clip_grad_norm(10.0)  # under the limit: left alone
    assert torch.equal(flat.param.grad, torch.tensor([3.0, 4.0]))
    flat.clip_grad_norm(None)
    assert torch.equal(flat.param.grad, torch.tensor([3.0, 4.0]))
    flat.clip_grad_norm(5.0 + 1e-6)  # exactly at the limit: a factor of one
    assert torch.allclose(flat.param.grad, torch.tensor([3.0, 4.0]), rtol=1e-6)


def test_seeded_module_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = (seeded_module(s, lambda: nn.Linear(3, 2)) for s in (5, 5, 6))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, c.weight)
    torch.manual_seed(5)
    assert torch.equal(nn.Linear(3, 2).weight, a.weight)


def test_torch_settings_reads_threads_and_denormal_flushing():
    threads = torch.get_num_threads()
    flushing = (torch.tensor([1e-40]) * 1.0).item() == 0.0
    try:
        for flush in (True, False):
            assert torch.set_flush_denormal(flush) or not flush
            settings = torch_settings()
            assert settings.flush_denormal is flush and settings.num_threads == threads
        torch.set_num_threads(1)
        assert torch_settings().num_threads == 1
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flushing)


def test_flat_adam_defaults_state_dict_copies_and_a_loaded_state_steps_on_identically():
    torch.manual_seed(3)
    fresh = FlatAdam(nn.Parameter(torch.zeros(4)), lr=1)
    state = fresh.state_dict()
    assert {k: v for k, v in state.items() if not k.startswith("exp")} == {
        "lr": 1.0, "betas": [0.9, 0.999], "eps": 1e-8, "step": 0}
    assert type(state["lr"]) is float and fresh.step_count == 0
    assert torch.equal(state["exp_avg"], torch.zeros(4)) and torch.equal(state["exp_avg_sq"], torch.zeros(4))

    a = FlatAdam(nn.Parameter(torch.randn(6)), lr=0.05, betas=(0.5, 0.75), eps=1e-3)
    for _ in range(3):
        a.param.grad = torch.randn(6)
        a.step()
    saved = a.state_dict()
    assert saved["lr"] == 0.05 and saved["betas"] == [0.5, 0.75] and saved["eps"] == 1e-3 and saved["step"] == 3
    assert saved["exp_avg"].any() and saved["exp_avg_sq"].any()
    kept = {k: v.clone() if torch.is_tensor(v) else v for k, v in saved.items()}
    a.exp_avg.add_(1.0)
    a.exp_avg_sq.add_(1.0)  # the state dict holds copies
    assert torch.equal(saved["exp_avg"], kept["exp_avg"]) and torch.equal(saved["exp_avg_sq"], kept["exp_avg_sq"])
    a.load_state_dict(kept)

    b = FlatAdam(nn.Parameter(a.param.detach().clone()), lr=1.0)
    b.load_state_dict({**kept, "lr": 0.05, "betas": [0.5, 0.75], "step": 3.0})
    assert (b.lr, b.betas, b.eps, b.step_count) == (0.05, (0.5, 0.75), 1e-3, 3)
    assert type(b.lr) is float and type(b.betas) is tuple and type(b.eps) is float and type(b.step_count) is int
    assert torch.equal(b.exp_avg, kept["exp_avg"]) and torch.equal(b.exp_avg_sq, kept["exp_avg_sq"])
    kept["exp_avg"].add_(1.0)  # the optimizer copied the loaded tensors
    assert not torch.equal(b.exp_avg, kept["exp_avg"])
    for _ in range(2):
        grad = torch.randn(6)
        a.param.grad, b.param.grad = grad.clone(), grad.clone()
        a.step()
        b.step()
    assert torch.equal(a.param, b.param) and torch.equal(a.exp_avg_sq, b.exp_avg_sq) and b.step_count == 5
    with pytest.raises(ValueError, match=r"^optimizer state has \(6,\) values, expected \(4,\)$"):
        fresh.load_state_dict(saved)
    assert fresh.step_count == 0 and fresh.lr == 1.0  # a refused state changes nothing


def test_legal_masks_needs_a_discrete_space_and_checks_rows_and_width():
    masks = np.array([[True, False, True], [False, True, False]])
    assert legal_masks(masks, 2, gym.spaces.Discrete(3)) is masks
    with pytest.raises(TypeError, match=r"^action masks need a Discrete action space, got Box\(0\.0, 1\.0, \(3,\), "
                                        r"float32\)$"):
        legal_masks(masks, 2, gym.spaces.Box(0, 1, (3,), np.float32))
    with pytest.raises(ValueError, match=r"^masks must be a bool array of shape \(3, 3\), got dtype bool shape"):
        legal_masks(masks, 3, gym.spaces.Discrete(3))
    with pytest.raises(ValueError, match=r"^masks must be a bool array of shape \(2, 4\), got dtype bool shape"):
        legal_masks(masks, 2, gym.spaces.Discrete(4))


def test_sample_legal_draws_every_legal_action_uniformly_and_never_an_illegal_one():
    masks = np.zeros((3000, 5), dtype=bool)
    masks[:, [0, 2, 3]] = True
    masks[:1000] = [True, False, False, False, False]  # only action 0
    masks[1000:2000] = [False, False, False, False, True]  # only the last action
    actions = sample_legal(np.random.default_rng(0), masks)
    assert actions.shape == (3000,)
    assert (actions[:1000] == 0).all() and (actions[1000:2000] == 4).all()
    counts = np.bincount(actions[2000:], minlength=5)
    assert counts[[1, 4]].sum() == 0 and all(280 < c < 390 for c in counts[[0, 2, 3]])
    again = sample_legal(np.random.default_rng(0), masks)
    assert np.array_equal(actions, again)


def test_action_spaces_as_checkpoint_data_round_trip():
    discrete = gym.spaces.Discrete(5, start=-2)
    data = action_space_to_dict(discrete)
    assert data == {"kind": "discrete", "n": 5, "start": -2}
    assert type(data["n"]) is int and type(data["start"]) is int
    back = action_space_from_dict(data)
    assert back == discrete and back.start == -2 and back.n == 5
    assert action_space_from_dict({"kind": "discrete", "n": np.int64(3), "start": np.int64(1)}) == gym.spaces.Discrete(3, start=1)

    box = gym.spaces.Box(np.array([-1.0, 0.0]), np.array([2.0, 0.5]), dtype=np.float64)
    data = action_space_to_dict(box)
    assert sorted(data) == ["dtype", "high", "kind", "low"] and data["kind"] == "box" and data["dtype"] == "float64"
    assert torch.equal(data["low"], torch.tensor([-1.0, 0.0], dtype=torch.float64))
    assert torch.equal(data["high"], torch.tensor([2.0, 0.5], dtype=torch.float64))
    back = action_space_from_dict(data)
    assert back == box and back.dtype == np.float64 and np.array_equal(back.low, box.low)
    small = gym.spaces.Box(-3, 3, (2,), dtype=np.int32)
    assert action_space_to_dict(small)["dtype"] == "int32"
    assert action_space_from_dict(action_space_to_dict(small)) == small


def test_numpy_rng_state_restores_the_stream():
    rng = np.random.default_rng(4)
    state = numpy_rng_state(rng)
    first = rng.random(3)
    set_numpy_rng_state(rng, state)
    assert np.array_equal(rng.random(3), first)
    other = np.random.default_rng(99)
    set_numpy_rng_state(other, state)
    assert np.array_equal(other.random(3), first)


def test_check_shapes_names_every_difference():
    check_shapes("a.pt", {"obs_dim": 4, "hidden": [8]}, {"obs_dim": 4, "hidden": [8]})
    check_shapes("a.pt", {"obs_dim": 4, "extra": 1}, {})
    with pytest.raises(CheckpointError, match=r"^checkpoint a\.pt does not fit this agent \(obs_dim: checkpoint 4, "
                                              r"agent 6; n_actions: checkpoint None, agent 2\)$"):
        check_shapes("a.pt", {"obs_dim": 4, "hidden": [8]}, {"obs_dim": 6, "hidden": [8], "n_actions": 2})


def _edited_checkpoint(path, record, edit):
    """A checkpoint as torch writes it, with one record of its zip archive replaced by ``edit(content)``."""
    save_checkpoint(path.with_suffix(".orig"), "dqn", {"w": torch.arange(3.0)})
    with zipfile.ZipFile(path.with_suffix(".orig")) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, edit(data) if info.filename.endswith("/" + record) else data)


def _gpu_saved(path):
    """A checkpoint as torch writes it on a CUDA machine: its storages are tagged 'cuda:0'."""
    def to_cuda(pickled):
        assert pickled.count(b"X\x03\x00\x00\x00cpu") == 1
        return pickled.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    _edited_checkpoint(path, "data.pkl", to_cuda)


def test_load_checkpoint_reads_the_file_and_maps_gpu_tensors_to_the_cpu(tmp_path):
    save_checkpoint(tmp_path / "a.pt", "ppo", {"w": torch.ones(2), "n": 3})
    data = load_checkpoint(str(tmp_path / "a.pt"), "ppo")
    assert data["algorithm"] == "ppo" and data["n"] == 3 and torch.equal(data["w"], torch.ones(2))
    assert load_checkpoint(tmp_path / "a.pt", None)["n"] == 3
    _gpu_saved(tmp_path / "gpu.pt")
    loaded = load_checkpoint(tmp_path / "gpu.pt", "dqn")["w"]
    assert loaded.device == torch.device("cpu") and torch.equal(loaded, torch.arange(3.0))


def test_load_checkpoint_names_the_file_and_what_is_wrong(tmp_path):
    missing = tmp_path / "missing.pt"
    with pytest.raises(CheckpointError, match=f"^checkpoint {missing} does not exist$"):
        load_checkpoint(str(missing), None)
    with pytest.raises(CheckpointError, match=f"^checkpoint {tmp_path} does not exist$"):
        load_checkpoint(tmp_path, None)  # a directory is not a checkpoint file
    cases = {
        "empty.pt": (b"", "the file is empty"),
        "zip.pt": (b"PK\x03\x04junk", "PytorchStreamReader failed reading zip archive: not a ZIP archive"),
        "short.pt": (b"\x80\x02", "EOFError"),  # torch's error has no message: its type names it
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(tmp_path / name, "dqn")
        assert str(err.value) == f"checkpoint {tmp_path / name} is not a readable torch checkpoint ({reason})"
    # torch's first sentence is the reason, without its full stop (and nothing else stripped)
    for name, byteorder in (("dot.pt", b"middle-endian."), ("x.pt", b"PDPX")):
        _edited_checkpoint(tmp_path / name, "byteorder", lambda _: byteorder)
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(tmp_path / name, "dqn")
        assert str(err.value) == (f"checkpoint {tmp_path / name} is not a readable torch checkpoint "
                                  f"(Unknown endianness type: {byteorder.decode().rstrip('.')})")
    (tmp_path / "pickle.pt").write_bytes(b"x")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "pickle.pt", "dqn")
    assert str(err.value).startswith(
        f"checkpoint {tmp_path / 'pickle.pt'} was refused: it holds objects other than tensors and plain data, "
        f"and loading it could run code (Weights only load failed.")
    assert "\n" not in str(err.value) and str(err.value).endswith(")")
    torch.save([1, 2], tmp_path / "list.pt")
    torch.save({"format": "something-else", "algorithm": "dqn"}, tmp_path / "other.pt")
    for name in ("list.pt", "other.pt"):
        with pytest.raises(CheckpointError, match=f"^checkpoint {tmp_path / name} is not an ecs-rl checkpoint$"):
            load_checkpoint(tmp_path / name, None)
    save_checkpoint(tmp_path / "dqn.pt", "dqn", {})
    with pytest.raises(CheckpointError, match=f"^checkpoint {tmp_path / 'dqn.pt'} holds a 'dqn' agent, "
                                              f"not a 'ppo' agent$"):
        load_checkpoint(tmp_path / "dqn.pt", "ppo")
    torch.save({"format": "ecs-rl-checkpoint"}, tmp_path / "nameless.pt")
    with pytest.raises(CheckpointError, match=r"holds a None agent, not a 'dqn' agent$"):
        load_checkpoint(tmp_path / "nameless.pt", "dqn")


def test_a_pickled_object_is_refused_even_where_the_environment_turns_torchs_safe_default_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # honoured by torch.load only when not told
    marker = tmp_path / "code-ran"
    torch.save({"format": "ecs-rl-checkpoint", "algorithm": "dqn", "payload": Exploit(str(marker))},
               tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=f"^checkpoint {tmp_path / 'evil.pt'} was refused: "):
        load_checkpoint(tmp_path / "evil.pt", "dqn")
    assert not marker.exists()
