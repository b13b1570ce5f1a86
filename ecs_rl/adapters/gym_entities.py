"""Any Gymnasium environment instanced as N agent entities, stepped by a processor.

So ``TrainingSession`` and the plugin train on any Gymnasium task unchanged: build the world with
``build_gym_world(lambda: gym.make("LunarLander-v3"), n_envs=8)``, install the plugin with
``reset=gym_reset``, and run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import esper
import gymnasium as gym
import numpy as np

from ..ecs.components import Action, Done, Observation, Reward, agent_components


@dataclass(slots=True)
class GymEnv:
    """The Gymnasium environment an entity steps."""

    env: gym.Env


class GymEnvProcessor(esper.Processor):
    """Steps each entity's env with its ``Action`` (entities whose episode ended wait for their reset)."""

    def process(self, *args, **kwargs) -> None:
        """Step every entity's env with its ``Action`` (esper calls this once per tick)."""
        for _, (g, action, obs, reward, done) in esper.get_components(GymEnv, Action, Observation, Reward, Done):
            if action.value is None or done.terminated or done.truncated:
                continue
            o, r, terminated, truncated, _ = g.env.step(action.value)
            obs.value = np.asarray(o)
            reward.value += float(r)
            done.terminated, done.truncated = bool(terminated), bool(truncated)


def gym_reset(entity: int, seed: int | None = None) -> None:
    """Reset hook for gym-backed entities: ``env.reset(seed=seed)`` into ``Observation``.

    Args:
        entity: the esper entity whose env to reset.
        seed: passed to ``env.reset(seed=...)``.
    """
    g = esper.component_for_entity(entity, GymEnv)
    esper.component_for_entity(entity, Observation).value = np.asarray(g.env.reset(seed=seed)[0])


def build_gym_world(make_env: Callable[[], gym.Env], n_envs: int = 1, seed: int | None = None,
                    policy: str = "gym") -> list[int]:
    """``n_envs`` entities each owning ``make_env()`` (reset with ``seed + i``), and the stepping processor.

    Args:
        make_env: makes one Gymnasium env (called once per entity).
        n_envs: the number of entities (envs).
        seed: entity i's env is reset with ``seed + i`` (None: unseeded).
        policy: the policy name the entities' ``Agent`` components carry.

    Returns:
        The entity ids.
    """
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs!r}")
    if esper.get_processor(GymEnvProcessor) is None:
        esper.add_processor(GymEnvProcessor(), priority=0)
    entities = []
    for i in range(n_envs):
        env = make_env()
        obs, _ = env.reset(seed=None if seed is None else seed + i)
        entities.append(esper.create_entity(*agent_components(policy, np.asarray(obs)), GymEnv(env)))
    return entities


def gym_factory(make_env: Callable[[], gym.Env], policy: str = "gym"):
    """A world factory ``(n_envs, seed) -> entities`` for the plugin's evaluation and the adapters.

    Args:
        make_env: makes one Gymnasium env (called once per entity).
        policy: the policy name the entities carry.
    """
    return lambda n_envs, seed: build_gym_world(make_env, n_envs, seed, policy)
