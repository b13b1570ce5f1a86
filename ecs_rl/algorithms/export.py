"""Export a trained greedy policy to a small file a game loads without torch: ``.npz`` (numpy) or ``.onnx``.

    from ecs_rl.algorithms.export import export_policy, export_checkpoint
    export_policy(agent.to_policy(), "cartpole.npz")          # a policy in memory
    export_checkpoint("runs/cartpole/dqn", "cartpole.onnx")     # a run's best.pt (what ``ecs-rl export`` does)

Both formats hold the network that :class:`GreedyPolicy` acts with (DQN's Q-network, PPO's actor) and the
header of :mod:`ecs_rl.inference.header`; :func:`ecs_rl.inference.load_policy` reads either. Each export is
checked: the file is loaded back and must choose the torch policy's actions on random observations.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ..core.files import atomic_target
from ..inference.header import FORMAT, FORMAT_VERSION, check_header, dumps, encode_bounds
from .policy import GreedyPolicy

EXTENSIONS = (".npz", ".onnx")
ONNX_OPSET = 17


class ExportError(ValueError):
    """A policy cannot be exported as asked (unknown extension, a missing extra, a network of another shape)."""


def check_target(path: str | os.PathLike[str]) -> str:
    """The format of ``path`` by its extension ("npz" or "onnx"); unknown ones and a missing onnx extra are refused."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ExportError(f"{path}: unknown extension {suffix or '(none)'!r}; export to .npz (numpy, no extra "
                          "needed to load) or .onnx (onnxruntime)")
    if suffix == ".onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ExportError(f"{path}: writing .onnx needs the onnx package: pip install 'ecs-rl[onnx]'") from None
    return suffix[1:]


def describe(policy: GreedyPolicy, algorithm: str | None = None) -> tuple[dict[str, Any], list[nn.Linear]]:
    """The header and the linear layers of ``policy``'s network (an MLP of ``Linear`` and one activation).

    ``algorithm`` defaults to what the activation says: ReLU is ecs-rl's DQN, Tanh its PPO actor."""
    modules = list(policy.network)
    linears, between = modules[0::2], {type(m) for m in modules[1::2]}
    names = {nn.ReLU: "relu", nn.Tanh: "tanh"}
    if len(modules) % 2 == 0 or not all(isinstance(m, nn.Linear) for m in linears) or len(between) > 1 \
            or between - set(names):
        raise ExportError(f"only MLPs of Linear layers with one activation (ReLU or Tanh) between them export; "
                          f"got {policy.network}")
    activation = names[between.pop()] if between else ("relu" if algorithm in (None, "dqn") else "tanh")
    algorithm = algorithm or {"relu": "dqn", "tanh": "ppo"}[activation]
    space = policy.action_space
    if isinstance(space, gym.spaces.Discrete):
        action = {"kind": "discrete", "n": int(space.n), "start": int(space.start)}
        output = "q_values" if algorithm == "dqn" else "logits"
    elif isinstance(space, gym.spaces.Box):
        action = {"kind": "box", "shape": list(space.shape), "dtype": str(np.dtype(space.dtype)),
                  "low": encode_bounds(space.low), "high": encode_bounds(space.high)}
        output = "mean"
    else:
        raise ExportError(f"action space {space} does not export (Discrete and Box do)")
    from .. import __version__

    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "ecs_rl_version": __version__,
        "algorithm": algorithm, "output": output,
        "architecture": {"kind": "mlp", "sizes": sizes, "activation": activation},
        "observation_space": {"kind": "box", "shape": [int(policy.obs_dim)], "dtype": "float32"},
        "action_space": action,
    }
    check_header(header, "(being exported)")  # what the loader will demand, checked before writing
    return header, linears


def write_npz(policy: GreedyPolicy, path: str | os.PathLike[str], algorithm: str | None = None) -> Path:
    """The header (UTF-8 JSON in a uint8 array) and ``layer<i>.weight`` / ``layer<i>.bias`` float32 arrays."""
    header, linears = describe(policy, algorithm)
    arrays = {"header": np.frombuffer(dumps(header).encode("utf-8"), dtype=np.uint8)}
    for i, linear in enumerate(linears):
        arrays[f"layer{i}.weight"] = linear.weight.detach().numpy().astype(np.float32)
        arrays[f"layer{i}.bias"] = linear.bias.detach().numpy().astype(np.float32)
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


class _ClippedMean(nn.Module):
    """The Box policy's mean action clipped to the space's bounds, as GreedyPolicy returns it."""

    def __init__(self, network: nn.Module, low: np.ndarray, high: np.ndarray) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("low", torch.from_numpy(np.asarray(low, np.float32).reshape(-1)))
        self.register_buffer("high", torch.from_numpy(np.asarray(high, np.float32).reshape(-1)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.maximum(self.network(obs), self.low), self.high)


def write_onnx(policy: GreedyPolicy, path: str | os.PathLike[str], algorithm: str | None = None) -> Path:
    """The network as an ONNX graph made by torch's exporter and checked with ``onnx.checker``.

    Input ``obs`` (float32 ``[batch, obs_dim]``); output named by the header (``q_values``, ``logits``, or
    ``mean``: for Box actions already clipped to the space). Masks are not in the graph: set illegal actions'
    outputs to -inf before the argmax (``ecs_rl.inference`` does). The header is the model's ``ecs_rl`` metadata.
    """
    check_target(path)
    import onnx

    header, _ = describe(policy, algorithm)
    module: nn.Module = policy.network
    if header["output"] == "mean":
        module = _ClippedMean(module, policy.action_space.low, policy.action_space.high)
    module = module.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch's TorchScript-based exporter (``dynamo=False``): it needs no onnxscript and is exact for an MLP;
        # torch marks it deprecated in favour of the torch.export-based one
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, policy.obs_dim),), buffer, input_names=["obs"],
                          output_names=[header["output"]], dynamic_axes={"obs": {0: "batch"},
                                                                         header["output"]: {0: "batch"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {"ecs_rl": dumps(header)})
    model.doc_string = (f"ecs-rl {header['algorithm']} greedy policy: obs float32 [batch, "
                        f"{header['architecture']['sizes'][0]}] -> {header['output']} float32 [batch, "
                        f"{header['architecture']['sizes'][-1]}]. Discrete: the action is argmax + start (illegal "
                        "actions' values set to -inf first); Box: the output is the action. Spaces in metadata "
                        "'ecs_rl'.")
    onnx.checker.check_model(model, full_check=True)
    with atomic_target(path) as tmp:
        tmp.write_bytes(model.SerializeToString())
    return Path(path)


def export_policy(policy: GreedyPolicy, path: str | os.PathLike[str], algorithm: str | None = None,
                  verify: int = 1_000) -> bool:
    """Write ``policy`` to ``path`` (format by extension) and check the file: loaded back, it must pick the
    same actions as ``policy`` on ``verify`` random observations (Box: within 1e-5, absolute or relative; near-ties
    of Discrete outputs may differ in 1 of 1 000); 0 skips the check.
    Returns whether it was checked so (without onnxruntime an ``.onnx`` file is checked by ``onnx.checker`` only)."""
    kind = check_target(path)
    (write_npz if kind == "npz" else write_onnx)(policy, path, algorithm)
    return bool(verify) and check_same_actions(policy, path, verify)


def check_same_actions(policy: GreedyPolicy, path: str | os.PathLike[str], n: int, seed: int = 0) -> bool:
    """Refuse a written file whose policy acts differently from ``policy`` on ``n`` random observations;
    False when it could not be checked (an ``.onnx`` file without onnxruntime)."""
    from ..inference import load_policy

    try:
        loaded = load_policy(path)
    except ModuleNotFoundError:  # an .onnx file without onnxruntime
        return False
    obs = np.random.default_rng(seed).normal(size=(n, policy.obs_dim)).astype(np.float32)
    ours, theirs = loaded.act_batch(obs), policy.act_batch(obs)
    same = np.allclose(ours, theirs, rtol=1e-5, atol=1e-5) if policy.continuous else (ours == theirs).mean() >= 0.999
    if not same:
        raise ExportError(f"{path}: the exported policy acts differently from the checkpoint's network "
                          f"(on {n} random observations); the file was written but should not be used")
    return True


def export_checkpoint(source: str | os.PathLike[str], path: str | os.PathLike[str], which: str | None = None,
                      verify: int = 1_000) -> GreedyPolicy:
    """Export the greedy policy of a checkpoint file, or of a run directory's ``<which>.pt`` (default: best,
    else latest; see :meth:`GreedyPolicy.load`). Returns the policy exported."""
    check_target(path)
    policy = GreedyPolicy.load(source, which)
    export_policy(policy, path, verify=verify)
    return policy
