"""Constructors behind the Gymnasium ids ecs-rl registers (see ``ecs_rl/_registration.py``)."""

from __future__ import annotations

from gymnasium.vector import AutoresetMode

from ..worlds import cartpole, foragers
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


def make_foragers(render_mode: str | None = None) -> WorldEnv:
    """``gym.make("ecs_rl/Foragers-v0")``: one forager in the arena (its pellets, no rivals)."""
    renderer = None
    if render_mode:
        from ..render.foragers import foragers_frame

        renderer = foragers_frame
    return WorldEnv(foragers.factory("foragers"), foragers.reset, foragers.observation_space, foragers.action_space,
                    renderer=renderer, render_mode=render_mode)


def make_foragers_vector(num_envs: int = 16, autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP,
                         **kwargs) -> WorldVectorEnv:
    """``gym.make_vec("ecs_rl/Foragers-v0", num_envs=N, vectorization_mode="vector_entry_point")``: N foragers
    sharing one arena (so they compete for the same pellets)."""
    return WorldVectorEnv(foragers.factory("foragers"), foragers.reset, foragers.observation_space,
                          foragers.action_space, num_envs, autoreset_mode=autoreset_mode)


def foragers_parallel_env(num_agents: int = 16):
    """The foragers arena as a PettingZoo ``ParallelEnv`` (needs the pettingzoo extra)."""
    from .parallel_env import ParallelWorldEnv

    return ParallelWorldEnv(foragers.factory("foragers"), foragers.reset, foragers.observation_space,
                            foragers.action_space, num_agents)
