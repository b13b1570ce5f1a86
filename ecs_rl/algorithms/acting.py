"""Acting copies of an agent for worlds in other processes (``ecs_rl.distributed``): they act, they never learn.

The learner's weights travel as plain numpy arrays (:func:`acting_weights`), never as pickled torch
modules; an :class:`ActingCopy` loads them into a network of the same shape and acts with it:

- DQN: epsilon-greedy with an epsilon the learner sets (its own schedule), legal actions only;
- PPO: samples from the policy and remembers, per agent id, the raw action, its log-probability and the
  mask it was sampled under, which the learner hands to :meth:`PpoAgent.decided` with the transition.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch

from ..core.types import ActMode
from .common import legal_masks
from .dqn import DqnAgent, DqnConfig
from .ppo import PpoAgent, PpoConfig


def _acting_module(agent: Any) -> torch.nn.Module:
    if isinstance(agent, DqnAgent):
        return agent.q_net
    if isinstance(agent, PpoAgent):
        return agent.net
    raise TypeError(f"an acting copy needs a DqnAgent or PpoAgent, got {type(agent).__name__}")


def acting_weights(agent: Any) -> dict[str, np.ndarray]:
    """The weights an acting copy needs (DQN's Q-network, PPO's actor-critic) as numpy arrays (copies)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in _acting_module(agent).state_dict().items()}


class ActingCopy:
    """A network of ``algorithm`` ("dqn" or "ppo") built from ``config``, acting with weights it is given.

    ``seed`` seeds its own exploration (each worker its own). ``behaviour`` (PPO) maps each agent id to the
    decision it made last: ``(raw action, log-probability, mask or None, version)``, ``version`` naming the
    weights it was made with (as :meth:`load` was told); :meth:`take` pops one.
    """

    def __init__(self, algorithm: str, observation_space: gym.Space, action_space: gym.Space, config: Any,
                 seed: int) -> None:
        if algorithm == "dqn":
            config = config if isinstance(config, DqnConfig) else DqnConfig(**config)
            self._agent: Any = DqnAgent(observation_space, action_space, replace(config, buffer_size=1))
        elif algorithm == "ppo":
            config = config if isinstance(config, PpoConfig) else PpoConfig(**config)
            self._agent = PpoAgent(observation_space, action_space, config)
        else:
            raise ValueError(f"an acting copy is of algorithm 'dqn' or 'ppo', got {algorithm!r}")
        self.algorithm = algorithm
        self.observation_space, self.action_space = observation_space, action_space
        self.gamma = config.gamma
        self.network = _acting_module(self._agent).requires_grad_(False)
        self.obs_dim = self._agent.obs_dim
        self.rng = np.random.default_rng(seed)
        self.epsilon = 1.0 if algorithm == "dqn" else 0.0
        self.version = 0
        self.behaviour: dict[int, tuple[np.ndarray, float, np.ndarray | None, int]] = {}

    def load(self, weights: dict[str, np.ndarray], version: int = 0) -> None:
        """Take the learner's weights (from :func:`acting_weights`); ``version`` tags the decisions made with them."""
        self.network.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in weights.items()})
        self.version = int(version)

    def take(self, agent_id: int) -> tuple[np.ndarray, float, np.ndarray | None, int]:
        """The decision agent ``agent_id`` made last (PPO), forgotten here once taken."""
        return self.behaviour.pop(int(agent_id))

    def forget(self, agent_id: int) -> None:
        self.behaviour.pop(int(agent_id), None)

    def act_batch(self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLORE,
                  agent_ids: Sequence[int] | None = None, masks: np.ndarray | None = None) -> np.ndarray:
        if self.algorithm == "dqn":  # the learner's own rule, with the epsilon it sent
            return self._agent.epsilon_greedy(obs_batch, self.epsilon if mode is ActMode.EXPLORE else None,
                                              self.rng, masks)
        obs = np.array(obs_batch, dtype=np.float32).reshape(-1, self.obs_dim)
        n = len(obs)
        if masks is not None:
            masks = legal_masks(masks, n, self.action_space).copy()
        obs_t = torch.from_numpy(obs)
        masks_t = None if masks is None else torch.from_numpy(masks)
        with torch.inference_mode():
            if mode is ActMode.EXPLOIT:
                return self._agent._to_env(self.network.greedy(obs_t, masks_t).numpy())
            actions, logps = self.network.sample(obs_t, self.rng, masks_t)
        ids = range(n) if agent_ids is None else agent_ids
        for row, agent_id in enumerate(ids):
            self.behaviour[int(agent_id)] = (actions[row], float(logps[row]), None if masks is None else masks[row],
                                             self.version)
        return self._agent._to_env(actions)
