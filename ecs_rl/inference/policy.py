"""Exported greedy policies: the acting rules shared by every format, and the numpy one.

Masks are applied by this wrapper, not inside the network: the network's Q-values (DQN) or logits (PPO) of
illegal actions are set to -inf before the argmax, exactly as ``ecs_rl.algorithms.GreedyPolicy`` does.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core.masks import legal_masks
from .header import FORMAT, FORMAT_VERSION, PolicyFileError, Spec, check_header

__all__ = ["FORMAT", "FORMAT_VERSION", "ExportedPolicy", "NumpyPolicy", "PolicyFileError", "load_policy", "read_npz"]


class ExportedPolicy:
    """Acts greedily from an exported network: the argmax of its Q-values / logits for Discrete actions
    (``masks``: bool, True = legal), the mean action clipped to the Box for continuous ones.

    Takes the same arguments as ``GreedyPolicy.act`` / ``act_batch`` (``mode`` and agent ids are accepted and
    ignored: it is always greedy), so the esper plugin uses it like any frozen policy.

    Args:
        spec: the file's header (architecture, spaces).
        source: the file it was loaded from.
    """

    def __init__(self, spec: Spec, source: str | os.PathLike[str]) -> None:
        self.spec = spec
        self.header = spec.header
        self.source = Path(source)
        self.algorithm = spec.algorithm
        self.obs_dim = spec.obs_dim
        self.continuous = spec.continuous
        self._action_space: Any = None

    @property
    def action_space(self) -> Any:
        """The gymnasium space of the actions (built on first use)."""
        if self._action_space is None:
            import gymnasium as gym  # a dependency of ecs-rl itself; the plugin checks actions and masks with it

            s = self.spec
            self._action_space = (gym.spaces.Box(s.low, s.high, s.action_shape, s.action_dtype) if s.continuous
                                  else gym.spaces.Discrete(s.n_actions, start=s.start))
        return self._action_space

    @property
    def total_steps(self) -> int:
        """Always 0: an exported policy does not learn."""
        return 0

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """The network's output for a float32 ``(n, obs_dim)`` batch: ``(n, outputs)`` float32.

        Args:
            obs: the observations.
        """
        raise NotImplementedError

    def act_batch(self, obs_batch: Any, mode: Any = None, agent_ids: Sequence[int] | None = None,
                  masks: np.ndarray | None = None) -> np.ndarray:
        """Greedy actions for a batch, as ``GreedyPolicy`` chooses them.

        Args:
            obs_batch: a batch of rows of the network's input size (in any shape).
            mode: ignored: always greedy.
            agent_ids: ignored.
            masks: optional ``(n, n_actions)`` bool array of legal actions (Discrete only).
        """
        obs = np.asarray(obs_batch, dtype=np.float32)
        # one row per observation, each of obs_dim numbers (in any shape): a batch whose size is merely a
        # multiple of obs_dim (another game's observations) is refused, never regrouped into other rows
        if obs.ndim == 0 or len(obs) == 0 or obs.size != len(obs) * self.obs_dim:
            raise ValueError(f"observations of shape {obs.shape} do not fit policy {self.source.name} "
                             f"(a batch of observations of {self.obs_dim} numbers each)")
        out = self.forward(obs.reshape(len(obs), self.obs_dim))
        s = self.spec
        if self.continuous:
            if masks is not None:
                raise TypeError(f"action masks need a Discrete action space; policy {self.source.name} has "
                                f"Box actions of shape {s.action_shape}")
            return np.clip(out.reshape(len(out), *s.action_shape), s.low, s.high).astype(s.action_dtype)
        if masks is not None:
            out = np.where(legal_masks(masks, len(out), s.n_actions), out, -np.inf)
        return out.argmax(axis=1) + s.start

    def act(self, obs: Any, mode: Any = None, agent_id: int = 0, mask: np.ndarray | None = None) -> Any:
        """The greedy action for one observation.

        Args:
            obs: one observation of the network's input size.
            mode: ignored: always greedy.
            agent_id: ignored.
            mask: optional bool array of legal actions.
        """
        masks = None if mask is None else np.asarray(mask).reshape(1, -1)
        obs = np.asarray(obs, dtype=np.float32)
        if obs.size != self.obs_dim:
            raise ValueError(f"observation of shape {obs.shape} does not fit policy {self.source.name} "
                             f"(it reads {self.obs_dim} numbers)")
        action = self.act_batch(obs.reshape(1, -1), masks=masks)[0]
        return action if self.continuous else int(action)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.source)!r}, {self.algorithm}, sizes={list(self.spec.sizes)})"


class NumpyPolicy(ExportedPolicy):
    """An exported policy computed with numpy alone: ``x @ W.T + b`` and the activation, layer by layer.

    Args:
        spec: the file's header.
        layers: ``(weight, bias)`` float32 arrays, layer by layer (weights ``(out, in)``).
        source: the file it was loaded from.
    """

    def __init__(self, spec: Spec, layers: list[tuple[np.ndarray, np.ndarray]], source: str | os.PathLike[str]):
        super().__init__(spec, source)
        act = {"relu": _relu, "tanh": _tanh}[spec.activation]
        # weights stored (out, in) as torch keeps them; transposed once here so each layer is one matmul
        self._plan = [(np.ascontiguousarray(w.T), b, act if i < len(layers) - 1 else None)
                      for i, (w, b) in enumerate(layers)]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "NumpyPolicy":
        """Read an exported ``.npz`` policy (``numpy.load(allow_pickle=False)``; shapes checked against its header).

        Args:
            path: the ``.npz`` file.
        """
        spec, layers = read_npz(path)
        return cls(spec, layers, path)

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """The network's output for a float32 ``(n, obs_dim)`` batch: ``(n, outputs)`` float32.

        Args:
            obs: the observations.
        """
        x = obs
        for weight_t, bias, act in self._plan:
            x = x @ weight_t
            x += bias
            if act is not None:
                act(x)
        return x


def _relu(x: np.ndarray) -> None:
    np.maximum(x, 0.0, out=x)


def _tanh(x: np.ndarray) -> None:
    np.tanh(x, out=x)


def read_npz(path: str | os.PathLike[str]) -> tuple[Spec, list[tuple[np.ndarray, np.ndarray]]]:
    """A checked ``.npz`` policy file: its header and its ``(weight, bias)`` float32 arrays, layer by layer.

    Read with ``allow_pickle=False`` (nothing in the file can run code); every array's shape is checked
    against the header's architecture, and arrays the header does not account for are refused.

    Args:
        path: the ``.npz`` file.
    """
    path = Path(path)
    if not path.is_file():
        raise PolicyFileError(f"policy file {path} does not exist" if not path.exists()
                              else f"policy file {path} is not a file")
    if not zipfile.is_zipfile(path):
        raise PolicyFileError(f"policy file {path} is not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise PolicyFileError(f"policy file {path} holds pickled objects (object arrays); refused: loading "
                                  "them could run code") from None
        raise PolicyFileError(f"policy file {path} is not a readable .npz file ({_first_line(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise PolicyFileError(f"policy file {path} is not a readable .npz file ({_first_line(exc)})") from None
    for name, value in arrays.items():  # numpy hands back a member not stored as .npy as raw bytes
        if not isinstance(value, np.ndarray):
            raise PolicyFileError(f"policy file {path}: its member {name!r} is not a .npy array")
    if "header" not in arrays:
        raise PolicyFileError(f"policy file {path} has no 'header' array: not an ecs-rl policy file")
    raw = arrays.pop("header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise PolicyFileError(f"policy file {path}: its header must be a 1-d uint8 array of UTF-8 JSON, got "
                              f"dtype {raw.dtype} shape {raw.shape}")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyFileError(f"policy file {path}: its header is not UTF-8 JSON ({_first_line(exc)})") from None
    spec = check_header(header, str(path))
    layers = []
    for i, (n_in, n_out) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:])):
        pair = []
        for part, shape in (("weight", (n_out, n_in)), ("bias", (n_out,))):
            name = f"layer{i}.{part}"
            if name not in arrays:
                raise PolicyFileError(f"policy file {path} has no array {name!r} (its header describes "
                                      f"{len(spec.sizes) - 1} layers of sizes {list(spec.sizes)})")
            array = arrays.pop(name)
            if array.shape != shape:
                raise PolicyFileError(f"policy file {path}: array {name!r} has shape {array.shape}, its header's "
                                      f"architecture {list(spec.sizes)} needs {shape}")
            if array.dtype != np.float32:
                raise PolicyFileError(f"policy file {path}: array {name!r} has dtype {array.dtype}, not float32")
            if not np.isfinite(array).all():
                raise PolicyFileError(f"policy file {path}: array {name!r} holds non-finite values")
            pair.append(array)
        layers.append((pair[0], pair[1]))
    if arrays:
        raise PolicyFileError(f"policy file {path} holds arrays its header does not describe: "
                              f"{', '.join(sorted(arrays))}")
    return spec, layers


def load_policy(path: str | os.PathLike[str]) -> ExportedPolicy:
    """The greedy policy in an exported file: ``.npz`` (numpy only) or ``.onnx`` (needs onnxruntime,
    ``pip install 'ecs-rl[onnx]'``). Bad files are refused with a ``PolicyFileError`` naming the file.

    Args:
        path: the ``.npz`` or ``.onnx`` file.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return NumpyPolicy.load(path)
    if suffix == ".onnx":
        from .onnx_policy import OnnxPolicy

        return OnnxPolicy.load(path)
    raise PolicyFileError(f"policy file {path}: unknown extension {suffix or '(none)'!r}; exported policies are "
                          ".npz (numpy) or .onnx (onnxruntime)")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
