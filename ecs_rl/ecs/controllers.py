"""Non-learning controllers that can drive agent entities beside learning sessions."""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np


class ScriptedController:
    """Actions from a plain function ``fn(observation, entity) -> action``.

    Give it to ``install`` under a policy name, and agent entities of that policy act by it (a scripted
    bot beside the learners): ``install({"red": session, "bot": ScriptedController(chase, space)}, reset)``.

    Args:
        fn: called once per decision of each of its entities with the entity's current ``Observation``
            value (a numpy array) and the esper entity id; returns an action of ``action_space``.
        action_space: the gymnasium space the actions belong to (each action is checked against it).
    """

    def __init__(self, fn: Callable[[np.ndarray, int], Any], action_space: gym.Space) -> None:
        self.fn = fn
        self.action_space = action_space

    def decide(self, observation: np.ndarray, entity: int) -> Any:
        """The action for one entity: ``fn(observation, entity)``.

        Args:
            observation: the entity's current ``Observation``.
            entity: the esper entity id.
        """
        return self.fn(observation, entity)


class HumanController:
    """Actions from a person: input handling sets ``action`` (per entity or for all); idle -> ``default``.

    The keyboard mapping lives with the renderer (``ecs_rl.render``); this class only holds the choice.

    Args:
        action_space: the gymnasium space the actions belong to.
        default: the action of an entity for which no action is set (no key held).
    """

    def __init__(self, action_space: gym.Space, default: Any) -> None:
        self.action_space = action_space
        self.default = default
        self.action: Any = None  # for every entity this controller drives
        self.per_entity: dict[int, Any] = {}

    def set_action(self, action: Any, entity: int | None = None) -> None:
        """Choose the action a person gives (called by input handling, e.g. on a key press).

        Args:
            action: the action, or None for the ``default``.
            entity: the entity it is for; None: every entity this controller drives.
        """
        if entity is None:
            self.action = action
        else:
            self.per_entity[entity] = action

    def decide(self, observation: np.ndarray, entity: int) -> Any:
        """The action chosen for ``entity`` (else the one for all entities, else ``default``).

        Args:
            observation: the entity's observation (unused: a person decides).
            entity: the esper entity id.
        """
        chosen = self.per_entity.get(entity, self.action)
        return self.default if chosen is None else chosen
