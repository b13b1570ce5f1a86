"""The demo games the ``ecs-rl`` command knows: world, policy name, presets, drawing and keys."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable


@dataclass(frozen=True)
class Game:
    name: str
    title: str
    world_module: str  # build(n, seed, policy), reset(entity, seed), factory(policy), spaces
    render_module: str  # draw_world(surface, human_entity=None)
    policy: str
    default_envs: dict[str, int]  # algorithm -> agent entities its preset is tuned for
    default_algo: str
    default_steps: int
    eval_episodes: int
    solved_reward: float | None  # training stops once a greedy evaluation reaches it
    window: tuple[int, int]
    sim_hz: float  # simulation ticks per second when shown at normal speed
    keys: dict[str, int] = field(default_factory=dict)  # pygame key name -> action
    idle: Callable[[int], int] = lambda tick: 0  # the human's action with no key held (tick -> action)

    @property
    def world(self) -> ModuleType:
        return importlib.import_module(self.world_module)

    @property
    def render(self) -> ModuleType:
        return importlib.import_module(self.render_module)

    def preset(self, algo: str, seed: int, steps: int) -> Any:
        from .algorithms import presets

        name = f"{self.name}_{algo}"
        if not hasattr(presets, name):
            raise ValueError(f"game {self.name!r} has no {algo!r} preset")
        make = getattr(presets, name)
        return make(seed, total_steps=steps) if "total_steps" in make.__code__.co_varnames else make(seed)


GAMES: dict[str, Game] = {
    "cartpole": Game(
        name="cartpole", title="CartPole", world_module="ecs_rl.worlds.cartpole",
        render_module="ecs_rl.render.cartpole", policy="cartpole", default_envs={"dqn": 1, "ppo": 8},
        default_algo="dqn",
        default_steps=100_000, eval_episodes=20, solved_reward=475.0, window=(600, 400), sim_hz=50.0,
        keys={"left": 0, "right": 1}, idle=lambda tick: tick % 2,  # alternate pushes: no net force
    ),
    "foragers": Game(
        name="foragers", title="Foragers", world_module="ecs_rl.worlds.foragers",
        render_module="ecs_rl.render.foragers", policy="foragers", default_envs={"dqn": 16, "ppo": 16},
        default_algo="dqn",
        default_steps=100_000, eval_episodes=16, solved_reward=None, window=(640, 640), sim_hz=20.0,
        keys={"up": 1, "down": 2, "left": 3, "right": 4},
    ),
}


def get_game(name: str) -> Game:
    try:
        return GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r}; known games: {', '.join(GAMES)}") from None
