"""Constructors behind the Gymnasium ids ecs-rl registers (see ``ecs_rl/_registration.py``)."""

from __future__ import annotations

from gymnasium.vector import AutoresetMode

from ..worlds import cartpole
from .world_env import WorldEnv, WorldVectorEnv


def _renderer():
    from ..render.cartpole import cartpole_frame  # pygame only when rendering is asked for

    return cartpole_frame


def make_cartpole(render_mode: str | None = None) -> WorldEnv:
    """``gym.make("ecs_rl/CartPole-v1")``: the ECS CartPole world as a Gymnasium env."""
    return WorldEnv(cartpole.factory("cartpole"), cartpole.reset, cartpole.observation_space, cartpole.action_space,
                    dt=cartpole.TAU, renderer=_renderer() if render_mode else None, render_mode=render_mode)


def make_cartpole_vector(num_envs: int = 1, autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP,
                         **kwargs) -> WorldVectorEnv:
    """``gym.make_vec("ecs_rl/CartPole-v1", num_envs=N, vectorization_mode="vector_entry_point")``."""
    return WorldVectorEnv(cartpole.factory("cartpole"), cartpole.reset, cartpole.observation_space,
                          cartpole.action_space, num_envs, dt=cartpole.TAU, autoreset_mode=autoreset_mode)
