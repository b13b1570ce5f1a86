"""A multi-agent ECS world as a PettingZoo ``ParallelEnv``: each agent entity is an agent."""

from __future__ import annotations

from typing import Any, Callable

import esper
import gymnasium as gym
import numpy as np

from .world import OwnedWorld, in_world, own_copy

try:
    from pettingzoo import ParallelEnv
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("ParallelWorldEnv needs PettingZoo: pip install 'ecs-rl[pettingzoo]'") from exc


class ParallelWorldEnv(ParallelEnv):
    """``num_agents`` agent entities of one world; an agent whose episode ends leaves ``agents``.

    ``reset(seed=s)`` seeds agent ``i`` with ``s + i``; observations are read once every agent is reset.
    Each agent has its own copies of the given spaces (the same object on every call, as PettingZoo asks),
    so seeding one agent's space, or another env's, never moves its random stream.

    Action masks follow PettingZoo's classic environments: when the world's agent entities carry an
    ``ActionMask`` (or ``action_masks=True``), each observation is a dict ``{"observation": obs,
    "action_mask": int8 array, 1 = legal}`` and the observation space a ``Dict`` of the two.

    Args:
        factory: ``factory(n, seed)`` builds ``n`` agent entities in the current esper world (a private world here).
        reset: the game's reset hook ``reset(entity, seed)``.
        observation_space: each agent's observation space.
        action_space: each agent's action space.
        num_agents: the number of agents.
        dt: the time step passed to ``esper.process``.
        action_masks: force masked observations on (True) or off (False); None: when the entities carry ``ActionMask``.
    """

    metadata = {"name": "ecs_rl_world_v0", "render_modes": []}

    def __init__(self, factory, reset: Callable[[int, "int | None"], None], observation_space: gym.Space,
                 action_space: gym.Space, num_agents: int, *, dt: float = 1 / 50,
                 action_masks: bool | None = None) -> None:
        self._world = OwnedWorld(factory, num_agents, "parallel")
        self.possible_agents = [f"agent_{i}" for i in range(num_agents)]
        self._entity = dict(zip(self.possible_agents, self._world.entities))
        with in_world(self._world.name):
            self._masked = self._world.masked if action_masks is None else bool(action_masks)
        if self._masked:
            if not isinstance(action_space, gym.spaces.Discrete):
                self._world.close()
                raise TypeError(f"action masks need a Discrete action space, got {action_space!r}")
            observation_space = gym.spaces.Dict({
                "observation": observation_space,
                "action_mask": gym.spaces.Box(0, 1, (int(action_space.n),), dtype=np.int8)})
        self._obs_spaces = {a: own_copy(observation_space) for a in self.possible_agents}
        self._act_spaces = {a: own_copy(action_space) for a in self.possible_agents}
        self._reset_hook, self._dt = reset, dt
        self.agents: list[str] = []
        self.render_mode = None

    def observation_space(self, agent: str) -> gym.Space:
        """The observation space of ``agent`` (its own copy, the same object on every call).

        Args:
            agent: the agent's name (``agent_<i>``).
        """
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gym.Space:
        """The action space of ``agent`` (its own copy, the same object on every call).

        Args:
            agent: the agent's name (``agent_<i>``).
        """
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode for every agent; returns ``(observations, infos)`` by agent name.

        Args:
            seed: agent i's reset hook gets ``seed + i`` (None: each continues its random stream).
            options: unused (PettingZoo's signature).
        """
        self.agents = list(self.possible_agents)
        with in_world(self._world.name):
            for i, agent in enumerate(self.agents):
                self._world.start_episode(self._reset_hook, self._entity[agent], None if seed is None else seed + i)
            obs = {a: self._observe(a, self._world.observation(self._entity[a])) for a in self.agents}  # after resets
        return obs, {a: {} for a in self.agents}

    def _observe(self, agent: str, obs: Any) -> Any:
        """The agent's observation, with its action mask in PettingZoo's classic form when masked."""
        if not self._masked:
            return obs
        mask = self._world.action_mask(self._entity[agent], self._act_spaces[agent])
        return {"observation": obs, "action_mask": mask.astype(np.int8)}

    def step(self, actions: dict[str, Any]):
        """One tick with every live agent's action; returns observations, rewards, terminations,
        truncations and infos by agent name (an agent whose episode ended leaves ``agents``).

        Args:
            actions: agent name -> action, for the live agents.
        """
        unknown = set(actions) - set(self.agents)
        if unknown:
            raise ValueError(f"actions for agents that are not live: {sorted(unknown)}")
        with in_world(self._world.name):
            for agent in self.agents:
                if agent not in actions:
                    raise ValueError(f"no action for live agent {agent!r}")
                self._world.components(self._entity[agent])[1].value = actions[agent]
            esper.process(self._dt)
            results = {a: self._world.collect(self._entity[a]) for a in self.agents}
            obs = {a: self._observe(a, r[0]) for a, r in results.items()}
        rewards = {a: r[1] for a, r in results.items()}
        terminations = {a: r[2] for a, r in results.items()}
        truncations = {a: r[3] for a, r in results.items()}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return obs, rewards, terminations, truncations, {a: {} for a in results}

    def close(self) -> None:
        """Delete the env's private esper world."""
        self._world.close()
