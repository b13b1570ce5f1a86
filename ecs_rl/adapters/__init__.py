"""Gymnasium / PettingZoo faces of an ECS world, and Gymnasium envs as ECS entities.

``ParallelWorldEnv`` (PettingZoo) is imported from ``ecs_rl.adapters.parallel_env`` so that PettingZoo
stays an optional extra.
"""

from .gym_entities import GymEnv, GymEnvProcessor, build_gym_world, gym_factory, gym_reset
from .world_env import WorldEnv, WorldVectorEnv

__all__ = ["GymEnv", "GymEnvProcessor", "WorldEnv", "WorldVectorEnv", "build_gym_world", "gym_factory", "gym_reset"]
