"""Pieces shared by the torch agents: MLPs, safe checkpoint I/O, RNG state, torch's CPU settings, spaces."""

from __future__ import annotations

import math
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.files import atomic_target
from ..core.masks import legal_masks as core_legal_masks

FORMAT = "ecs-rl-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, unsafe, of another algorithm, or of other shapes."""


class Mlp(nn.Sequential):
    """Linear layers with an activation between them; ``forward`` calls ``F.linear`` directly.

    Same parameters and state-dict keys as the equivalent ``nn.Sequential``, without the per-layer
    module-call overhead that dominates small networks.
    """

    def __init__(self, sizes: Sequence[int], activation: type[nn.Module], out_gain: float | None = None) -> None:
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = nn.Linear(n_in, n_out)
            last = i == len(sizes) - 2
            if out_gain is not None:  # orthogonal init: sqrt(2) for hidden layers, out_gain for the last
                nn.init.orthogonal_(linear.weight, gain=out_gain if last else math.sqrt(2))
                nn.init.zeros_(linear.bias)
            layers.append(linear)
            if not last:
                layers.append(activation())
        super().__init__(*layers)
        act = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh}[activation]
        linears = [m for m in self if isinstance(m, nn.Linear)]
        self._plan = [(m.weight, m.bias, act if i < len(linears) - 1 else None) for i, m in enumerate(linears)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for weight, bias, act in self._plan:
            x = F.linear(x, weight, bias)
            if act is not None:
                x = act(x)
        return x


def mlp(sizes: Sequence[int], activation: type[nn.Module], out_gain: float | None = None) -> Mlp:
    return Mlp(sizes, activation, out_gain)


class FlatParameters:
    """Every parameter of ``module`` as a view into one contiguous tensor, with one contiguous gradient.

    The optimizer, gradient clipping and zeroing then each touch one tensor instead of one per layer;
    on small MLPs that per-tensor overhead dominates (an update step measured ~20% faster, with
    bit-identical weights). Autograd accumulates into the gradient views in place. Keep the module on
    the CPU it was built on (``module.to`` would reallocate the parameters).
    """

    def __init__(self, module: nn.Module) -> None:
        params = list(module.parameters())
        self.param = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
        self.param.grad = torch.zeros_like(self.param)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.param.data[offset:offset + n].view_as(p)
            p.grad = self.param.grad[offset:offset + n].view_as(p)
            offset += n

    def zero_grad(self) -> None:
        self.param.grad.zero_()

    def clip_grad_norm(self, max_norm: float | None) -> None:
        """``nn.utils.clip_grad_norm_``'s arithmetic on the one gradient tensor: one norm, one multiply."""
        if max_norm is not None:
            grad = self.param.grad
            grad.mul_(torch.clamp(max_norm / (torch.linalg.vector_norm(grad) + 1e-6), max=1.0))


def seeded_module(seed: int, build) -> nn.Module:
    """Build a module with parameters drawn from ``seed`` without touching torch's global RNGs: only the CPU
    generator is seeded (``torch.manual_seed`` would reseed every CUDA device's too) and it is put back after."""
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        return build()


@dataclass(frozen=True)
class TorchSettings:
    """torch's process-wide CPU settings that ``configure_torch`` changes."""

    num_threads: int
    flush_denormal: bool


def torch_settings() -> TorchSettings:
    """The current settings. Flush-denormal has no getter in torch, so it is read from its effect: a
    denormal float32 (1e-40) survives a multiplication unless denormals are flushed to zero."""
    return TorchSettings(torch.get_num_threads(), bool((torch.tensor([1e-40]) * 1.0).item() == 0.0))


def configure_torch(num_threads: int | None = 1, flush_denormal: bool | None = True) -> TorchSettings:
    """Set torch's process-wide CPU settings for small networks; returns the previous ones.

    Call it once at program start (the ``ecs-rl`` commands and the benchmarks do): building an agent
    never changes process-wide state, so a game that uses torch elsewhere keeps its own settings.
    ``num_threads``: torch's intra-op threads; one is fastest for 64-wide MLPs (use 2 for 256-wide
    ones, see benchmarks/torch_settings.py). ``flush_denormal``: treat denormal floats as zero; Adam's
    second-moment state drifts into denormals on small nets and makes the CPU crawl (a fused Adam step
    measured 5x faster). ``None`` leaves a setting as it is. Restore with
    ``configure_torch(**dataclasses.asdict(previous))``.
    """
    previous = torch_settings()
    if num_threads is not None:
        if int(num_threads) < 1:
            raise ValueError(f"num_threads must be >= 1 (or None to leave torch's choice), got {num_threads!r}")
        if previous.num_threads != num_threads:
            torch.set_num_threads(int(num_threads))
    if flush_denormal is not None and flush_denormal != previous.flush_denormal:
        if not torch.set_flush_denormal(bool(flush_denormal)) and flush_denormal:
            warnings.warn("this CPU cannot flush denormals to zero (no SSE3): small-network training may be slow",
                          RuntimeWarning, stacklevel=2)
    return previous


class FlatAdam:
    """Adam (Kingma & Ba) on one flat parameter tensor, as a few in-place tensor operations:

        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    The same arithmetic as ``torch.optim.Adam`` (tested equal), without its per-step Python
    machinery, which costs several times the update itself on a 64-wide MLP.
    """

    def __init__(self, param: nn.Parameter, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.param = param
        self.lr = float(lr)
        self.betas = betas
        self.eps = eps
        self.step_count = 0
        self.exp_avg = torch.zeros_like(param.data)
        self.exp_avg_sq = torch.zeros_like(param.data)

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        grad = self.param.grad
        self.step_count += 1
        self.exp_avg.mul_(b1).add_(grad, alpha=1.0 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1.0 - b2)
        bias1 = 1.0 - b1**self.step_count
        bias2_sqrt = math.sqrt(1.0 - b2**self.step_count)
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        self.param.data.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "step": self.step_count,
                "exp_avg": self.exp_avg.clone(), "exp_avg_sq": self.exp_avg_sq.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["exp_avg"].shape != self.exp_avg.shape:
            raise ValueError(f"optimizer state has {tuple(state['exp_avg'].shape)} values, expected {tuple(self.exp_avg.shape)}")
        self.lr, self.betas, self.eps = float(state["lr"]), tuple(state["betas"]), float(state["eps"])
        self.step_count = int(state["step"])
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])


def box_dim(space: gym.Space, what: str) -> int:
    """Flat size of a ``Box`` observation space; anything else is refused with a clear error."""
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"{what} must be a gymnasium Box space, got {space!r}")
    return int(np.prod(space.shape))


def legal_masks(masks: Any, n_rows: int, space: gym.Space) -> np.ndarray:
    """Action masks as an ``(n_rows, n)`` bool array for a ``Discrete(n)`` space (True = legal); other
    shapes and dtypes, a non-Discrete space, and a row with no legal action are refused clearly."""
    if not isinstance(space, gym.spaces.Discrete):
        raise TypeError(f"action masks need a Discrete action space, got {space!r}")
    return core_legal_masks(masks, n_rows, int(space.n))


def sample_legal(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly random legal action index per row of ``masks`` (the argmax of uniform scores over legal ones)."""
    scores = rng.random(masks.shape)
    scores[~masks] = -1.0
    return scores.argmax(axis=1)


def action_space_to_dict(space: gym.Space) -> dict[str, Any]:
    """A Discrete or Box action space as plain data a checkpoint can hold."""
    if isinstance(space, gym.spaces.Discrete):
        return {"kind": "discrete", "n": int(space.n), "start": int(space.start)}
    return {"kind": "box", "low": torch.from_numpy(np.array(space.low)), "high": torch.from_numpy(np.array(space.high)),
            "dtype": str(np.dtype(space.dtype))}


def action_space_from_dict(data: dict[str, Any]) -> gym.Space:
    if data["kind"] == "discrete":
        return gym.spaces.Discrete(int(data["n"]), start=int(data["start"]))
    return gym.spaces.Box(data["low"].numpy(), data["high"].numpy(), dtype=np.dtype(data["dtype"]))


def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return rng.bit_generator.state


def set_numpy_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state


def save_checkpoint(path: str | os.PathLike[str], algorithm: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts only) atomically with a format header."""
    with atomic_target(path) as tmp:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "algorithm": algorithm, **payload}, tmp)


def load_checkpoint(path: str | os.PathLike[str], algorithm: str | None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no code from the file runs) and check its header."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {path} was refused: it holds objects other than tensors and plain data, "
            f"and loading it could run code ({str(exc).splitlines()[0]})"
        ) from None
    except Exception as exc:  # truncated zip, not a torch file at all, ...
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0].rstrip(".")
        if path.stat().st_size == 0:
            reason = "the file is empty"
        raise CheckpointError(f"checkpoint {path} is not a readable torch checkpoint ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an ecs-rl checkpoint")
    if algorithm is not None and data.get("algorithm") != algorithm:
        raise CheckpointError(
            f"checkpoint {path} holds a {data.get('algorithm')!r} agent, not a {algorithm!r} agent"
        )
    return data


def check_shapes(path: str | os.PathLike[str], saved: dict[str, Any], mine: dict[str, Any]) -> None:
    """Refuse a checkpoint whose network shapes differ from this agent's, naming each difference."""
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, agent {v!r}" for k, v in mine.items() if saved.get(k) != v]
    if diffs:
        raise CheckpointError(f"checkpoint {path} does not fit this agent ({'; '.join(diffs)})")
