"""The demo games the ``ecs-rl`` command knows: world, learning policies, presets, drawing and keys.

A game's world module provides ``build``, ``factory``, the spaces and (for ``on_end="reset"``) ``reset``:

- one learning policy (``Game.policy``): ``build(n, seed, policy)``, ``factory(policy)``, ``reset(entity,
  seed)``, ``observation_space`` and ``action_space``;
- several learning policies (``Game.policies``): ``build(n, seed)`` (and ``build(n, seed, human=team)`` for
  ``play``), ``factory()``, ``observation_spaces`` (policy -> space) and ``action_space`` (or
  ``action_spaces``, policy -> space); scripted agents beside them come from ``Game.controllers`` (the name of
  a world-module function returning ``{policy: controller}``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Game:
    name: str
    title: str
    world_module: str  # see the module docstring
    render_module: str  # draw_world(surface, human_entity=None)
    policy: str  # the learning policy (a multi-policy game: its first)
    default_envs: dict[str, int]  # algorithm -> agent entities its preset is tuned for
    default_algo: str
    default_steps: int  # the step budget of a learning policy: decisions of that policy's agents
    eval_episodes: int
    solved_reward: float | None  # training stops once a greedy evaluation reaches it
    window: tuple[int, int]
    sim_hz: float  # simulation ticks per second when shown at normal speed
    keys: dict[str, int] = field(default_factory=dict)  # pygame key name -> action
    idle: Callable[[int], int] = lambda tick: 0  # the human's action with no key held (tick -> action)
    policies: tuple[str, ...] = ()  # several learning policies, one training run each (default: (policy,))
    controllers: str | None = None  # world-module function () -> {policy: controller} for non-learning agents
    on_end: str = "reset"  # "reset": world.reset(entity, seed) restarts an agent; "delete": the game respawns
    eval_freq: int = 5_000  # default greedy evaluation period of ``ecs-rl train`` (steps of a policy)
    eval_max_ticks: int = 10_000  # an evaluation's tick limit (unfinished episodes count as truncated)
    human: str | None = None  # multi-policy games: the team a person plays (build(..., human=team))
    scorer: str | None = None  # world-module function score(policies, n, seeds) -> {policy: score} for eval
    score_worlds: int = 4  # ``ecs-rl eval`` of a game with a scorer: this many worlds (seeds) by default
    score_label: str = "score"  # what the scorer measures (shown by ``ecs-rl eval``)
    policy_steps: dict[str, int] = field(default_factory=dict)  # per-policy default budgets (else default_steps)

    @property
    def world(self) -> ModuleType:
        return importlib.import_module(self.world_module)

    @property
    def render(self) -> ModuleType:
        return importlib.import_module(self.render_module)

    @property
    def learning_policies(self) -> tuple[str, ...]:
        return self.policies or (self.policy,)

    @property
    def multi(self) -> bool:
        """Whether the game trains several policies at once (one run per policy)."""
        return len(self.learning_policies) > 1

    def budget(self, policy: str) -> int:
        """The default step budget of a learning policy."""
        return self.policy_steps.get(policy, self.default_steps)

    def spaces(self, policy: str) -> tuple[Any, Any]:
        """``(observation_space, action_space)`` of a learning policy."""
        if policy not in self.learning_policies:
            raise ValueError(f"game {self.name!r} has no learning policy {policy!r}; "
                             f"its policies: {', '.join(self.learning_policies)}")
        world = self.world
        obs = world.observation_spaces[policy] if hasattr(world, "observation_spaces") else world.observation_space
        act = world.action_spaces[policy] if hasattr(world, "action_spaces") else world.action_space
        return obs, act

    def build(self, n: int, seed: int | None, human: bool = False) -> Any:
        """The game's world for ``n`` agents in the current esper world (``human``: with the person's agent,
        multi-policy games only; single-policy games hand one of the entities to the person themselves)."""
        if not self.multi:
            return self.world.build(n, seed, self.policy)
        return self.world.build(n, seed, human=self.human) if human else self.world.build(n, seed)

    def factory(self) -> Any:
        """``factory(episodes, seed)`` for evaluations."""
        return self.world.factory() if self.multi else self.world.factory(self.policy)

    def extra_controllers(self) -> dict[str, Any]:
        """Fresh non-learning controllers the world needs beside the learning policies (hawks)."""
        return dict(getattr(self.world, self.controllers)()) if self.controllers else {}

    def install(self, policies: Mapping[str, Any], *, evaluation: Any = None, learning: bool = True) -> Any:
        """Install the plugin in the current world: ``policies`` plus the game's controllers, ``on_end`` as declared."""
        from .ecs.plugin import Plugin

        reset = self.world.reset if self.on_end == "reset" else None
        return Plugin({**self.extra_controllers(), **policies}, reset, evaluation=evaluation, learning=learning,
                      on_end=self.on_end).install()

    def score(self) -> Callable[..., dict[str, float]] | None:
        """The game's own scoring function for ``ecs-rl eval``, if it declares one."""
        return getattr(self.world, self.scorer) if self.scorer else None

    def preset(self, algo: str, seed: int, steps: int, policy: str | None = None) -> Any:
        """The tuned agent config: ``presets.<game>_<algo>``, or ``presets.<game>_<policy>_<algo>`` for a
        multi-policy game."""
        from .algorithms import presets

        policy = policy or self.policy
        name = f"{self.name}_{policy}_{algo}" if self.multi else f"{self.name}_{algo}"
        if not hasattr(presets, name):
            whose = f" for policy {policy!r}" if self.multi else ""
            raise ValueError(f"game {self.name!r} has no {algo!r} preset{whose}")
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
    "hunt": Game(
        name="hunt", title="Hunt", world_module="ecs_rl.worlds.hunt", render_module="ecs_rl.render.hunt",
        policy="prey", policies=("prey", "predator"), controllers="controllers", on_end="delete",
        default_envs={"dqn": 24}, default_algo="dqn",
        # both budgets run out after about 5 500 ticks with 24 agents: 12 prey decide every tick, 9 predators
        # every second tick (and the dead wait to respawn)
        default_steps=50_000, policy_steps={"predator": 25_000}, eval_episodes=16, solved_reward=None,
        window=(640, 640), sim_hz=20.0, keys={"up": 1, "down": 2, "left": 3, "right": 4}, eval_freq=12_500,
        eval_max_ticks=2_000, human="prey", scorer="score",
        score_label="greedy reward per agent per 100 ticks of life (1 000 ticks per world)",
    ),
}


def get_game(name: str) -> Game:
    try:
        return GAMES[name]
    except KeyError:
        raise ValueError(f"unknown game {name!r}; known games: {', '.join(GAMES)}") from None
