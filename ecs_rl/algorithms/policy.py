"""Inference-only policies: a frozen copy of a trained network, no optimizer, no buffers."""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ..core.run import RunError, TrainingRun
from ..core.types import ActMode
from .common import CheckpointError, action_space_from_dict, legal_masks, load_checkpoint, mlp


class GreedyPolicy:
    """Acts greedily with a frozen network: argmax for Discrete actions, the mean (clipped) for Box.

    ``masks`` (Discrete only; bool, True = legal) restricts the argmax to legal actions: Q-values for a
    DQN network, logits for a PPO actor, so the masked argmax is the most likely legal action.

    Args:
        network: the frozen network (DQN's Q-network or PPO's actor).
        obs_dim: the number of observation features.
        action_space: the action space the network acts in.
    """

    def __init__(self, network: nn.Module, obs_dim: int, action_space: gym.Space) -> None:
        self.network = copy.deepcopy(network).eval().requires_grad_(False)
        self.obs_dim = obs_dim
        self.action_space = action_space
        self.continuous = isinstance(action_space, gym.spaces.Box)
        self.source: Path | None = None  # the checkpoint it was loaded from

    @classmethod
    def load(cls, path: str | os.PathLike[str], which: str | None = None) -> "GreedyPolicy":
        """From a checkpoint file, or a run (or version / name) directory's ``<which>.pt``.

        By default a run's ``best`` (saved by periodic evaluation), else its ``latest``, with a
        ``UserWarning`` saying so. A checkpoint the run does not hold is refused with the list of
        those it has. The policy's ``source`` is the file it was loaded from.

        Args:
            path: a checkpoint file, or a run, version or name directory.
            which: ``"best"``, ``"latest"`` or ``"step_<N>"`` (default: best, else latest).
        """
        path = Path(path)
        if path.is_dir():
            try:
                run_dir = TrainingRun.find(path)
            except RunError as exc:
                raise CheckpointError(str(exc)) from None
            folder = run_dir / "checkpoints"
            path = folder / f"{which or 'best'}.pt"
            if which is None and not path.is_file() and (folder / "latest.pt").is_file():
                warnings.warn(f"{run_dir} has no best.pt (it is saved by periodic evaluation): loading latest.pt",
                              UserWarning, stacklevel=2)
                path = folder / "latest.pt"
            if not path.is_file():
                held = sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []
                raise CheckpointError(f"{run_dir} has no {path.name}; its checkpoints: "
                                      f"{', '.join(held) or 'none yet'}")
        data = load_checkpoint(path, None)
        try:
            shapes = data["shapes"]
            action_space = action_space_from_dict(data["action_space"])
            hidden = tuple(shapes["hidden"])
            if data["algorithm"] == "dqn":
                network = mlp((shapes["obs_dim"], *hidden, shapes["n_actions"]), nn.ReLU)
                network.load_state_dict(data["q_net"])
            elif data["algorithm"] == "ppo":
                network = mlp((shapes["obs_dim"], *hidden, shapes["action_dim"]), nn.Tanh)
                prefix = "actor."
                network.load_state_dict({k[len(prefix):]: v for k, v in data["net"].items() if k.startswith(prefix)})
            else:
                raise CheckpointError(f"checkpoint {path} holds an unknown algorithm {data['algorithm']!r}")
        except (KeyError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {path} is corrupt or incomplete: {exc}") from None
        policy = cls(network, int(shapes["obs_dim"]), action_space)
        policy.source = path
        return policy

    @property
    def total_steps(self) -> int:
        """Always 0: a greedy policy does not learn."""
        return 0

    def act_batch(
        self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLOIT, agent_ids: Sequence[int] | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """Greedy actions for a batch: the argmax (Discrete) or the mean clipped to the space (Box).

        Args:
            obs_batch: observations stacked on the first axis.
            mode: ignored: always greedy.
            agent_ids: ignored (no per-agent state).
            masks: optional ``(n, n_actions)`` bool array of legal actions; masked actions are never chosen.
        """
        obs = torch.from_numpy(np.asarray(obs_batch, dtype=np.float32).reshape(-1, self.obs_dim))
        if masks is not None:
            masks = legal_masks(masks, len(obs), self.action_space)
        with torch.inference_mode():
            out = self.network(obs).numpy()
        if self.continuous:
            space = self.action_space
            return np.clip(out.reshape(len(out), *space.shape), space.low, space.high).astype(space.dtype)
        if masks is not None:
            out = np.where(masks, out, -np.inf)
        return out.argmax(axis=1) + int(self.action_space.start)

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLOIT, agent_id: int = 0, mask: np.ndarray | None = None) -> Any:
        """The greedy action for one observation.

        Args:
            obs: the observation.
            mode: ignored: always greedy.
            agent_id: ignored.
            mask: optional bool array of legal actions.
        """
        masks = None if mask is None else np.asarray(mask).reshape(1, -1)
        action = self.act_batch(np.asarray(obs, dtype=np.float32).reshape(1, self.obs_dim), masks=masks)[0]
        return action if self.continuous else int(action)
