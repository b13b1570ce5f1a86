"""The header every exported policy carries: what the network is and which spaces it reads and writes.

An ``.npz`` stores it as UTF-8 JSON in a uint8 array named ``header``; an ``.onnx`` file in its metadata
under the key ``ecs_rl``. Version 1::

    {"format": "ecs-rl-policy", "format_version": 1, "ecs_rl_version": "0.1.0",
     "algorithm": "dqn" | "ppo",
     "output": "q_values" | "logits" | "mean",      # what the network computes
     "architecture": {"kind": "mlp", "sizes": [4, 64, 64, 2], "activation": "relu" | "tanh"},
     "observation_space": {"kind": "box", "shape": [4], "dtype": "float32"},
     "action_space": {"kind": "discrete", "n": 2, "start": 0}
                   | {"kind": "box", "shape": [2], "dtype": "float32", "low": [...], "high": [...]}}

Box bounds are numbers, or the strings "inf" / "-inf" (plain JSON has no infinity).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "ecs-rl-policy"
FORMAT_VERSION = 1
ACTIVATIONS = ("relu", "tanh")
OUTPUTS = {"dqn": ("q_values",), "ppo": ("logits", "mean")}


class PolicyFileError(ValueError):
    """An exported policy file is missing, unsafe, of another format or version, or does not fit its header."""


@dataclass(frozen=True)
class Spec:
    """A checked header: the network's layer sizes and activation, and the spaces around it."""

    header: dict[str, Any]
    algorithm: str
    output: str
    sizes: tuple[int, ...]
    activation: str
    obs_dim: int
    continuous: bool
    n_actions: int | None = None  # Discrete
    start: int = 0
    action_shape: tuple[int, ...] = ()  # Box
    action_dtype: np.dtype = np.dtype(np.float32)
    low: np.ndarray | None = None
    high: np.ndarray | None = None


def encode_bounds(values: np.ndarray) -> list[Any]:
    """Box bounds as JSON values: finite numbers as floats, infinities as "inf" / "-inf"."""
    return [float(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf") for v in np.asarray(values, float).ravel()]


def _decode_bounds(values: Any, shape: tuple[int, ...], what: str, fail) -> np.ndarray:
    if not isinstance(values, list) or len(values) != int(np.prod(shape)):
        fail(f"action_space {what} must be a list of {int(np.prod(shape))} numbers, got {values!r}")
    out = []
    for v in values:
        if v in ("inf", "-inf"):
            out.append(float(v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
        else:
            fail(f"action_space {what} holds {v!r}, not a number")
    return np.array(out, dtype=np.float64).reshape(shape)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def dumps(header: dict[str, Any]) -> str:
    return json.dumps(header, sort_keys=True, allow_nan=False)


def check_header(header: Any, where: str) -> Spec:
    """The header as a :class:`Spec`, or a :class:`PolicyFileError` naming ``where`` (the file) and the fault."""
    def fail(message: str):
        raise PolicyFileError(f"policy file {where}: {message}")

    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fail(f"not an ecs-rl policy (its header does not say format {FORMAT!r})")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        fail(f"format version {version!r}; this ecs-rl reads version {FORMAT_VERSION} (export it again with this "
             "ecs-rl, or load it with the ecs-rl that wrote it)")
    for key in ("algorithm", "output", "architecture", "observation_space", "action_space"):
        if key not in header:
            fail(f"header has no {key!r}")
    algorithm, output = header["algorithm"], header["output"]
    if not isinstance(algorithm, str) or algorithm not in OUTPUTS:
        fail(f"unknown algorithm {algorithm!r} (known: {', '.join(OUTPUTS)})")
    if output not in OUTPUTS[algorithm]:
        fail(f"a {algorithm} policy cannot output {output!r} (expected {' or '.join(OUTPUTS[algorithm])})")
    arch = header["architecture"]
    sizes = arch.get("sizes") if isinstance(arch, dict) else None
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(_positive_int(s) for s in sizes)):
        fail(f"architecture sizes must be a list of at least two positive integers, got {sizes!r}")
    if arch.get("kind") != "mlp" or arch.get("activation") not in ACTIVATIONS:
        fail(f"architecture must be an mlp with activation {' or '.join(ACTIVATIONS)}, got {arch!r}")
    obs = header["observation_space"]
    if not (isinstance(obs, dict) and obs.get("kind") == "box" and obs.get("dtype") == "float32"
            and isinstance(obs.get("shape"), list) and all(_positive_int(s) for s in obs["shape"])):
        fail(f"observation_space must be a float32 box with a shape, got {obs!r}")
    obs_dim = int(np.prod(obs["shape"]))
    if sizes[0] != obs_dim:
        fail(f"the network reads {sizes[0]} numbers but observation_space has shape {tuple(obs['shape'])}")
    act = header["action_space"]
    kind = act.get("kind") if isinstance(act, dict) else None
    common = dict(header=header, algorithm=algorithm, output=output, sizes=tuple(sizes),
                  activation=arch["activation"], obs_dim=obs_dim)
    if kind == "discrete":
        n, start = act.get("n"), act.get("start", 0)
        if not (_positive_int(n) and isinstance(start, int) and not isinstance(start, bool)):
            fail(f"action_space discrete needs an integer n >= 1 and start, got {act!r}")
        if output == "mean":
            fail("a Discrete action space needs q_values or logits, not a mean")
        if sizes[-1] != n:
            fail(f"the network writes {sizes[-1]} values but action_space is Discrete({n})")
        return Spec(**common, continuous=False, n_actions=n, start=start)
    if kind == "box":
        shape = act.get("shape")
        if not (isinstance(shape, list) and all(_positive_int(s) for s in shape)):
            fail(f"action_space box needs a shape, got {act!r}")
        try:  # a name such as "float32" (np.dtype(None) would be float64: a missing dtype is refused)
            dtype = np.dtype(act["dtype"]) if isinstance(act.get("dtype"), str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind != "f":
            fail(f"action_space box needs a float dtype, got {act.get('dtype')!r}")
        if output != "mean":
            fail("a Box action space needs the mean action as output")
        if sizes[-1] != int(np.prod(shape)):
            fail(f"the network writes {sizes[-1]} values but action_space has shape {tuple(shape)}")
        low = _decode_bounds(act.get("low"), tuple(shape), "low", fail)
        high = _decode_bounds(act.get("high"), tuple(shape), "high", fail)
        if (low > high).any():
            fail("action_space low is above high")
        return Spec(**common, continuous=True, action_shape=tuple(shape), action_dtype=dtype,
                    low=low.astype(dtype), high=high.astype(dtype))
    fail(f"action_space must be discrete or box, got {act!r}")
    raise AssertionError  # unreachable: fail raises
