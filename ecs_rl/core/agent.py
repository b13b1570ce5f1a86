"""The contract every learning agent meets, and a seeded random agent for tests and examples."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import gymnasium as gym
import numpy as np

from .files import atomic_target
from .types import ActMode, Experience


@runtime_checkable
class LearningAgent(Protocol):
    """What ``TrainingSession`` and the ECS plugin need from an agent.

    ``agent_id`` / ``agent_ids`` say which entity a decision is for, so agents that keep
    per-actor state (PPO rollouts) can match a later ``observe`` to the ``act`` that produced it.
    Arrays passed in belong to the caller, who may reuse them: an agent copies what it keeps.

    Optional members the session and the plugin use when present: ``gamma`` (the discount; the plugin
    discounts rewards within a decision period with it, else sums them), ``forget(agent_id)`` (an
    actor left: drop its per-actor state), ``forget_all()`` (every actor left: a resumed run's old
    world), and ``save(path, session=...)`` / a ``load`` that returns that mapping (the session's
    state stored in the same file). An ``Experience`` spanning k ticks (``ticks``) bootstraps with
    ``gamma ** k``.
    """

    @property
    def total_steps(self) -> int:
        """Transitions observed so far (the agent's own count; a resumed agent continues it)."""

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLORE, agent_id: int = 0) -> Any:
        """One action for one observation.

        Args:
            obs: the observation, shaped as the agent's observation space.
            mode: ``ActMode.EXPLORE`` while training (epsilon-greedy, sampling), ``ActMode.EXPLOIT`` for greedy.
            agent_id: which agent acts (algorithms with per-agent state, such as PPO's rollouts, key it by this).

        Returns:
            An action of the agent's action space.
        """

    def act_batch(
        self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLORE, agent_ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """Actions for a batch of observations, one forward pass for all of them.

        Args:
            obs_batch: observations stacked on the first axis, ``(n, *obs_shape)``.
            mode: ``ActMode.EXPLORE`` while training, ``ActMode.EXPLOIT`` for greedy.
            agent_ids: the agent of each row (default ``0..n-1``); transitions are matched to actions by these.

        Returns:
            An array of ``n`` actions.
        """

    # Optional, for games with action masks (Discrete actions): act(..., mask=None) and
    #   act_batch(..., masks=None) taking a bool array of legal actions ((n_actions,) / (n, n_actions),
    #   True = legal) and never returning a masked action; Experience.next_mask holds the legal actions at
    #   next_obs. An agent without the argument runs only in games without masks.

    def observe(self, experience: Experience) -> None:
        """Learn from one transition (store it, update when due).

        Args:
            experience: ``(obs, action, reward, next_obs, status, agent_id)``; a terminated status stops
                bootstrapping, a truncated one does not.
        """

    def episode_extras(self) -> dict[str, float]:
        """Numbers to log with the episode that just ended (loss, epsilon, ...), by name."""

    def on_episode_start(self) -> None:
        """Called when an episode starts: reset per-episode figures."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole training state to a checkpoint file, atomically.

        Args:
            path: the file to write (``.pt`` for the torch agents).
        """

    def load(self, path: str | os.PathLike[str]) -> Any:
        """Restore the training state from a checkpoint written by ``save``.

        Args:
            path: the checkpoint file.

        Returns:
            The session state saved with it (``save(path, session=...)``), or None.
        """

    # Optional, used by TrainingSession when present:
    #   save(path, session=dict)  stores the session's state in the same file, atomically with the agent;
    #                             load(path) then returns that dict (None for a file saved without one).
    #   save(path, include_replay=True)  the resume point (``latest``) keeps bulky state (DQN's replay).
    #   forget_all()              after a resume: drop per-actor state of the world that did not survive.


class RandomAgent:
    """Uniform random actions over a gymnasium space, reproducible from ``seed``.

    It samples from its own copy of ``action_space``, so seeding it never touches the space it was
    given (often a module-level one that other agents and envs share).
    Its checkpoint is a small JSON file (RNG state and step count), so it round-trips exactly.

    Args:
        action_space: the gymnasium space to sample from.
        seed: seeds the agent's own copy of the space (None: unseeded).
    """

    kind = "random"

    def __init__(self, action_space: gym.spaces.Space, seed: int | None = None) -> None:
        if not isinstance(action_space, gym.spaces.Space):
            raise TypeError(f"action_space must be a gymnasium space, got {type(action_space).__name__}")
        self.action_space = copy.deepcopy(action_space)
        self.action_space.seed(seed)
        self._steps = 0
        self._episode_steps = 0

    @property
    def total_steps(self) -> int:
        """Transitions observed so far."""
        return self._steps

    def act(self, obs: Any, mode: ActMode = ActMode.EXPLORE, agent_id: int = 0, mask: np.ndarray | None = None) -> Any:
        """A uniform random action (``mode`` and ``agent_id`` are accepted and ignored).

        Args:
            obs: the observation (unused).
            mode: ignored: every mode samples uniformly.
            agent_id: ignored.
            mask: optional bool array of legal actions (Discrete spaces): the action is drawn among them.
        """
        if mask is not None:
            return self.act_batch(np.zeros((1, 1)), mode, [agent_id], np.asarray(mask).reshape(1, -1))[0]
        return self.action_space.sample()

    def act_batch(
        self, obs_batch: np.ndarray, mode: ActMode = ActMode.EXPLORE, agent_ids: Sequence[int] | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """Uniform actions; with ``masks`` ((n, n_actions) bool, Discrete only) uniform over each row's legal ones.

        Args:
            obs_batch: observations stacked on the first axis (only their number is used).
            mode: ignored: every mode samples uniformly.
            agent_ids: ignored.
            masks: optional ``(n, n_actions)`` bool array of legal actions.
        """
        space = self.action_space
        if masks is not None:
            if not isinstance(space, gym.spaces.Discrete):
                raise TypeError(f"action masks need a Discrete action space, got {space!r}")
            return np.array([space.sample(mask=np.asarray(m, dtype=np.int8)) for m in masks], dtype=np.int64)
        if isinstance(space, gym.spaces.Discrete):  # one draw for the whole batch
            return space.np_random.integers(space.n, size=len(obs_batch)) + space.start
        return np.stack([space.sample() for _ in range(len(obs_batch))])

    def observe(self, experience: Experience) -> None:
        """Count the transition (a random agent learns nothing).

        Args:
            experience: the transition.
        """
        self._steps += 1
        self._episode_steps += 1

    def episode_extras(self) -> dict[str, float]:
        """No extras: an empty dict."""
        return {}

    def on_episode_start(self) -> None:
        """Start counting the episode's steps from zero."""
        self._episode_steps = 0

    def save(self, path: str | os.PathLike[str], session: dict[str, Any] | None = None) -> None:
        """A JSON file: RNG state, step count, and the ``session`` state if given (returned by ``load``).

        Args:
            path: the file to write (atomically).
            session: plain data to store beside the agent.
        """
        state = {
            "kind": self.kind,
            "total_steps": self._steps,
            "rng": self.action_space.np_random.bit_generator.state,
            "session": session,
        }
        with atomic_target(path) as tmp:
            tmp.write_text(json.dumps(state))

    def load(self, path: str | os.PathLike[str]) -> dict[str, Any] | None:
        """Restore the RNG and the step count; return the session state saved with them (or ``None``).

        Args:
            path: the JSON file ``save`` wrote.
        """
        path = Path(path)
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"checkpoint {path} does not exist") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"checkpoint {path} is not a RandomAgent checkpoint (not JSON)") from None
        if not isinstance(state, dict) or state.get("kind") != self.kind:
            found = state.get("kind") if isinstance(state, dict) else None
            raise ValueError(f"checkpoint {path} holds a {found!r} agent, not a {self.kind!r} agent")
        try:
            self.action_space.np_random.bit_generator.state = state["rng"]
            self._steps = int(state["total_steps"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint {path} is corrupt: {exc}") from None
        return state.get("session")
