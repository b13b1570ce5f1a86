"""Components the plugin reads and writes. The game owns Observation, Reward and Done; the plugin owns the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(slots=True)
class Agent:
    """Marks an entity as an agent controlled by the policy registered under ``policy``.

    ``agent_id`` is what the policy sees (default: the entity id; a respawned entity may take the
    id of one whose episode has closed, never of a live one); ``decision_period`` k makes the entity
    decide every k ticks and repeat its action in between (one transition spans k ticks, its rewards
    discounted within the span and bootstrapped with gamma^k).
    """

    policy: str
    agent_id: int | None = None
    decision_period: int = 1


@dataclass(slots=True)
class Observation:
    """The entity's current observation, written by the game (a fresh array or in place: both work)."""

    value: np.ndarray


@dataclass(slots=True)
class Action:
    """The action chosen for the entity, written by the decide processor, read by the game."""

    value: Any = None


@dataclass(slots=True)
class Reward:
    """Reward earned this tick: the game adds to it, the record processor collects and zeroes it."""

    value: float = 0.0


@dataclass(slots=True)
class Done:
    """Episode flags set by the game: terminated (a terminal state) or truncated (cut short)."""

    terminated: bool = False
    truncated: bool = False


@dataclass(slots=True)
class ActionMask:
    """Optional: which actions are legal now, written by the game beside ``Observation`` (Discrete actions only).

    ``value`` is a bool numpy array of shape ``(n,)`` for a ``Discrete(n)`` action space, True = legal,
    with at least one legal action whenever the entity decides. The learner never picks a masked action
    (exploring or not) and DQN bootstraps over the next state's legal actions. An agent without it has
    every action legal.
    """

    value: np.ndarray


@dataclass(slots=True)
class EpisodeInfo:
    """Optional: numbers the game wants logged with the episode (e.g. food eaten)."""

    extras: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class EpisodeTracker:
    """Per-entity episode bookkeeping, maintained by the plugin."""

    total_reward: float = 0.0
    length: int = 0
    episodes: int = 0
    waiting: bool = False  # a decision was made and its transition is not closed yet
    decision_obs: np.ndarray | None = None
    decision_reward: float = 0.0
    ticks_since_decision: int = 0
    decisions: int = 0  # decisions closed this episode (``length`` counts ticks)
    needs_reset: bool = False
    key: int = 0  # the agent id the entity's policy sees (its agent id, namespaced by world)


@dataclass(slots=True)
class ResetRequest:
    """Add to an agent entity to reset it at the end of this tick (optionally reseeded).

    A live episode ends with this tick's transition, as truncated; then the game's reset hook runs.
    """

    seed: int | None = None


def agent_components(policy: str, observation: np.ndarray, agent_id: int | None = None,
                     decision_period: int = 1) -> list[Any]:
    """The components every agent entity carries; add your game's own beside them.

    ``esper.create_entity(*agent_components("runner", first_obs), Position(0, 0))``.

    Args:
        policy: the name of the policy that acts for the entity (a key of ``install``'s ``policies``).
        observation: the entity's first observation (its ``Observation`` component's value).
        agent_id: a stable id for the agent (default: the entity id); a respawned entity may take the id of
            one whose episode has closed, never of a live one.
        decision_period: the entity decides every ``decision_period`` ticks and repeats its action in between.

    Returns:
        ``[Agent, Observation, Action, Reward, Done, EpisodeTracker]``, to unpack into ``esper.create_entity``.
    """
    if decision_period < 1:
        raise ValueError(f"decision_period must be >= 1, got {decision_period!r}")
    return [Agent(policy, agent_id, decision_period), Observation(observation), Action(), Reward(), Done(),
            EpisodeTracker()]


AGENT_COMPONENTS = (Agent, Observation, Action, Reward, Done, EpisodeTracker)
