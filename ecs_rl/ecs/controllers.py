"""Non-learning controllers that can drive agent entities beside learning sessions."""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np


class ScriptedController:
    """Actions from a plain function ``fn(observation, entity) -> action``."""

    def __init__(self, fn: Callable[[np.ndarray, int], Any], action_space: gym.Space) -> None:
        self.fn = fn
        self.action_space = action_space

    def decide(self, observation: np.ndarray, entity: int) -> Any:
        return self.fn(observation, entity)


class HumanController:
    """Actions from a person: input handling sets ``action`` (per entity or for all); idle -> ``default``.

    The keyboard mapping lives with the renderer (``ecs_rl.render``); this class only holds the choice.
    """

    def __init__(self, action_space: gym.Space, default: Any) -> None:
        self.action_space = action_space
        self.default = default
        self.action: Any = None  # for every entity this controller drives
        self.per_entity: dict[int, Any] = {}

    def set_action(self, action: Any, entity: int | None = None) -> None:
        if entity is None:
            self.action = action
        else:
            self.per_entity[entity] = action

    def decide(self, observation: np.ndarray, entity: int) -> Any:
        chosen = self.per_entity.get(entity, self.action)
        return self.default if chosen is None else chosen
