"""A private esper world that an adapter owns: created by a factory, entered for each call, deleted on close."""

from __future__ import annotations

import contextlib
import copy
import itertools
from typing import Any, Iterator

import esper
import gymnasium as gym

import numpy as np

from ..ecs.components import Action, ActionMask, Agent, Done, Observation, Reward

_names = itertools.count()


@contextlib.contextmanager
def in_world(name: str) -> Iterator[None]:
    """Run the block in esper world ``name``, then switch back to whichever world was current."""
    previous = esper.current_world
    if previous == name:
        yield
        return
    esper.switch_world(name)
    try:
        yield
    finally:
        esper.switch_world(previous)


def own_copy(space: gym.Space) -> gym.Space:
    """A private copy of a space (the worlds' spaces are module-level objects shared by everyone), so
    seeding or sampling one env's space never moves another's random stream."""
    return copy.deepcopy(space)


class OwnedWorld:
    """Builds ``factory(n, seed=None)`` in a fresh esper world and keeps its agent entities in id order."""

    def __init__(self, factory, n: int, prefix: str) -> None:
        self.name = f"ecs_rl.{prefix}.{next(_names)}"
        with in_world(self.name):
            factory(n, None)
            self.entities = sorted(e for e, _ in esper.get_component(Agent))
        if len(self.entities) != n:
            self.close()
            raise ValueError(f"the world factory made {len(self.entities)} agent entities, expected {n}")

    def components(self, entity: int) -> tuple[Observation, Action, Reward, Done]:
        return tuple(esper.component_for_entity(entity, c) for c in (Observation, Action, Reward, Done))

    def start_episode(self, reset_hook, entity: int, seed: int | None) -> None:
        """The game's reset hook, then clean flags. Read observations with ``observation`` only once every
        entity of the call is reset: one entity's reset may change what the others see (a shared arena)."""
        reset_hook(entity, seed)
        _, _, reward, done = self.components(entity)
        reward.value = 0.0
        done.terminated = done.truncated = False

    def observation(self, entity: int) -> Any:
        """A copy of the entity's current observation."""
        return esper.component_for_entity(entity, Observation).value.copy()

    @property
    def masked(self) -> bool:
        """Whether the factory gave its agent entities an ``ActionMask``."""
        return any(esper.has_component(e, ActionMask) for e in self.entities)

    def action_mask(self, entity: int, space: gym.Space) -> np.ndarray:
        """A copy of the entity's ``ActionMask`` (all True without one), checked against ``space``."""
        if not isinstance(space, gym.spaces.Discrete):
            raise TypeError(f"action masks need a Discrete action space, got {space!r}")
        mask = esper.try_component(entity, ActionMask)
        if mask is None:
            return np.ones(int(space.n), dtype=bool)
        value = mask.value
        if not isinstance(value, np.ndarray) or value.dtype != np.bool_ or value.shape != (int(space.n),):
            raise ValueError(f"entity {entity}: ActionMask must be a bool numpy array of shape ({int(space.n)},), "
                             f"got {value!r}")
        return value.copy()

    def collect(self, entity: int) -> tuple[Any, float, bool, bool]:
        """Observation copy, reward (then zeroed), terminated, truncated of one entity after a tick."""
        obs, _, reward, done = self.components(entity)
        r, reward.value = float(reward.value), 0.0
        return obs.value.copy(), r, bool(done.terminated), bool(done.truncated)

    def close(self) -> None:
        if self.name in esper.list_worlds():
            if esper.current_world == self.name:
                esper.switch_world("default")
            esper.delete_world(self.name)
