"""ECS worlds as Gymnasium environments: one agent entity (``WorldEnv``) or N of them (``WorldVectorEnv``).

The world is built by the same factory the plugin and its evaluation use (``factory(n, seed)`` in the
current esper world), each adapter in an esper world of its own. A step sets ``Action``, runs one
``esper.process(dt)`` (the game's processors), and reads ``Observation``, ``Reward`` and ``Done``.
Game processors should leave entities whose ``Done`` flags are set alone until they are reset.
Observations are read after every reset of the call (a reset may change what other entities see), and
each env holds its own copies of the spaces it is given, so seeding one env's spaces leaves others alone.
Action masks (the entities' ``ActionMask``, Discrete actions) are offered the way sb3-contrib's
``MaskablePPO`` reads them: ``env.action_masks()``, True = legal.
"""

from __future__ import annotations

from typing import Any, Callable

import esper
import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .world import OwnedWorld, in_world, own_copy

Renderer = Callable[[int], np.ndarray]  # entity -> RGB frame (H, W, 3), called inside the world


class WorldEnv(gym.Env):
    """A single-agent ECS world as a ``gymnasium.Env``.

    ``reset(seed=s)`` calls the game's reset hook with ``s`` (which reseeds the entity); ``reset()``
    continues its random stream, as Gymnasium envs do.

    Args:
        factory: ``factory(n, seed)`` builds the agent entity in the current esper world (a private world here).
        reset: the game's reset hook ``reset(entity, seed)``.
        observation_space: the agent's observation space (the env keeps its own copy).
        action_space: the agent's action space (its own copy).
        dt: the time step passed to ``esper.process`` per ``step``.
        renderer: ``renderer(entity)`` -> an RGB array, for ``render_mode="rgb_array"``.
        render_mode: None or ``"rgb_array"`` (needs ``renderer``).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, factory, reset: Callable[[int, "int | None"], None], observation_space: gym.Space,
                 action_space: gym.Space, *, dt: float = 1 / 50, renderer: Renderer | None = None,
                 render_mode: str | None = None) -> None:
        if render_mode is not None and (render_mode not in self.metadata["render_modes"] or renderer is None):
            raise ValueError(f"render_mode {render_mode!r} is not available for this world "
                             f"({'no renderer given' if renderer is None else 'use rgb_array'})")
        self.observation_space, self.action_space = own_copy(observation_space), own_copy(action_space)
        self.render_mode = render_mode
        self._reset_hook, self._renderer, self._dt = reset, renderer, dt
        self._world = OwnedWorld(factory, 1, "env")
        (self._entity,) = self._world.entities

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode on the entity through the reset hook; returns ``(observation, {})``.

        Args:
            seed: passed to the reset hook (None: the entity continues its random stream).
            options: unused (Gymnasium's signature).
        """
        super().reset(seed=seed)
        with in_world(self._world.name):
            self._world.start_episode(self._reset_hook, self._entity, seed)
            return self._world.observation(self._entity), {}

    def step(self, action):
        """One tick (``esper.process(dt)``) with ``action`` in the entity's ``Action``; returns
        ``(observation, reward, terminated, truncated, {})``.

        Args:
            action: an action of ``action_space``.
        """
        with in_world(self._world.name):
            self._world.components(self._entity)[1].value = action
            esper.process(self._dt)
            obs, reward, terminated, truncated = self._world.collect(self._entity)
        return obs, reward, terminated, truncated, {}

    def action_masks(self) -> np.ndarray:
        """The legal actions now, a bool array of shape ``(n,)`` (all True if the entity has no ``ActionMask``)."""
        with in_world(self._world.name):
            return self._world.action_mask(self._entity, self.action_space)

    def render(self) -> np.ndarray | None:
        """The current frame as an RGB array (``render_mode="rgb_array"``), else None."""
        if self.render_mode != "rgb_array":
            return None
        with in_world(self._world.name):
            return self._renderer(self._entity)

    def close(self) -> None:
        """Delete the env's private esper world."""
        self._world.close()
        super().close()


class WorldVectorEnv(VectorEnv):
    """One ECS world holding ``num_envs`` agent entities as a ``gymnasium.vector.VectorEnv``.

    Autoreset follows Gymnasium 1.x (``autoreset_mode``):

    - ``NEXT_STEP`` (default): the step that ends an episode returns its final observation; the *next*
      ``step`` resets that entity, ignores its action, and returns the reset observation with reward 0
      and both flags false.
    - ``SAME_STEP``: the ending step resets at once and returns the reset observation; the final one is
      in ``infos["final_obs"][i]`` (masked by ``infos["_final_obs"]``).

    ``reset(seed=s)`` seeds entity ``i`` with ``s + i``, as ``SyncVectorEnv`` does.

    Args:
        factory: ``factory(n, seed)`` builds ``n`` agent entities in the current esper world (a private world here).
        reset: the game's reset hook ``reset(entity, seed)``.
        single_observation_space: one entity's observation space.
        single_action_space: one entity's action space.
        num_envs: the number of agent entities.
        dt: the time step passed to ``esper.process`` per ``step``.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` or ``AutoresetMode.SAME_STEP``.
    """

    def __init__(self, factory, reset: Callable[[int, "int | None"], None], single_observation_space: gym.Space,
                 single_action_space: gym.Space, num_envs: int, *, dt: float = 1 / 50,
                 autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs!r}")
        autoreset_mode = AutoresetMode(autoreset_mode)
        if autoreset_mode is AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode DISABLED is not supported; use NEXT_STEP or SAME_STEP")
        self.metadata = {"autoreset_mode": autoreset_mode, "render_modes": []}
        self.num_envs = num_envs
        self.single_observation_space = own_copy(single_observation_space)
        self.single_action_space = own_copy(single_action_space)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = None
        self._reset_hook, self._dt, self._mode = reset, dt, autoreset_mode
        self._world = OwnedWorld(factory, num_envs, "vector")
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        """Start a new episode on every entity; returns the stacked observations and ``{}``.

        Args:
            seed: an int (entity i gets ``seed + i``), a list of seeds (one per entity), or None.
            options: unused (Gymnasium's signature).
        """
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            if len(seed) != self.num_envs:
                raise ValueError(f"reset got {len(seed)} seeds for {self.num_envs} environments")
            seeds = list(seed)
        with in_world(self._world.name):
            for entity, s in zip(self._world.entities, seeds):
                self._world.start_episode(self._reset_hook, entity, s)
            obs = np.stack([self._world.observation(e) for e in self._world.entities])  # after every reset
        self._autoreset[:] = False
        return obs, {}

    def step(self, actions):
        """One tick with one action per entity; returns stacked observations, rewards, terminations,
        truncations and infos, autoresetting as ``autoreset_mode`` says.

        Args:
            actions: one action per entity, stacked.
        """
        n, entities, world = self.num_envs, self._world.entities, self._world
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        final, infos = [None] * n, {}
        next_step = self._mode is AutoresetMode.NEXT_STEP
        with in_world(world.name):
            for i, entity in enumerate(entities):
                world.components(entity)[1].value = actions[i]
            esper.process(self._dt)
            for i, entity in enumerate(entities):
                if not (next_step and self._autoreset[i]):  # an autoreset entity's action was ignored
                    final[i], rewards[i], terminated[i], truncated[i] = world.collect(entity)
            restart = self._autoreset if next_step else terminated | truncated
            for i in np.flatnonzero(restart):  # every final observation is read before any reset
                world.start_episode(self._reset_hook, entities[i], None)
                if not next_step:
                    infos = self._add_info(infos, {"final_obs": final[i], "final_info": {}}, i)
            obs = np.stack([world.observation(e) for e in entities])  # after every reset of this step
        if next_step:
            self._autoreset = terminated | truncated
        return obs, rewards, terminated, truncated, infos

    def action_masks(self) -> np.ndarray:
        """The legal actions now, a bool array of shape ``(num_envs, n)`` (rows of entities without an
        ``ActionMask`` all True)."""
        with in_world(self._world.name):
            return np.stack([self._world.action_mask(e, self.single_action_space) for e in self._world.entities])

    def close_extras(self, **kwargs: Any) -> None:
        """Delete the env's private esper world (``close()`` calls this).

        Args:
            **kwargs: unused (Gymnasium's signature).
        """
        self._world.close()
