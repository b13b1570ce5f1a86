"""Foragers: many agents share one arena (and usually one policy), chase food and avoid bumping.

Each tick an agent moves one step (stay / up / down / left / right). Touching a pellet earns +1 and
the pellet reappears elsewhere; bumping into another agent costs 0.1. Episodes last 200 ticks
(truncated). The observation (8 numbers) holds the offsets to the two nearest pellets and to the
nearest other agent, scaled by the arena size, and the agent's own position in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import esper
import gymnasium as gym
import numpy as np

from ..ecs.components import Action, Done, EpisodeInfo, Observation, Reward, agent_components
from ..games import Game, preset_from

ARENA = 10.0
SPEED = 0.3
EAT_RADIUS = 0.5
BUMP_RADIUS = 0.4
BUMP_COST = 0.1
EPISODE_TICKS = 200
MOVES = np.array([(0.0, 0.0), (0.0, 1.0), (0.0, -1.0), (-1.0, 0.0), (1.0, 0.0)]) * SPEED

observation_space = gym.spaces.Box(-1.0, 1.0, shape=(8,), dtype=np.float32)
action_space = gym.spaces.Discrete(5)


@dataclass(slots=True)
class Forager:
    x: float = 0.0
    y: float = 0.0
    ticks: int = 0
    rng: np.random.Generator = field(default_factory=np.random.default_rng)


@dataclass(slots=True)
class Food:
    x: float = 0.0
    y: float = 0.0


@dataclass(slots=True)
class Arena:
    """One per world: the RNG that places pellets."""

    rng: np.random.Generator = field(default_factory=np.random.default_rng)


def _observe(positions: np.ndarray, food: np.ndarray) -> np.ndarray:
    """Observations for all agents at once (n, 8)."""
    n = len(positions)
    to_food = food[None, :, :] - positions[:, None, :]  # (n, m, 2)
    order = np.argsort((to_food**2).sum(-1), axis=1)[:, :2]
    nearest_food = np.take_along_axis(to_food, order[:, :, None], axis=1).reshape(n, 4)
    to_agents = positions[None, :, :] - positions[:, None, :]  # (n, n, 2)
    dist = (to_agents**2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    nearest_agent = to_agents[np.arange(n), dist.argmin(axis=1)] if n > 1 else np.zeros((n, 2))
    obs = np.concatenate([nearest_food / ARENA, nearest_agent / ARENA, positions / ARENA * 2 - 1], axis=1)
    return np.clip(obs, -1.0, 1.0).astype(np.float32)


class ForageProcessor(esper.Processor):
    """Moves foragers, feeds them, charges bumps, ends episodes, writes observations."""

    def process(self, *args, **kwargs) -> None:
        rows = esper.get_components(Forager, Action, Observation, Reward, Done)
        if not rows:
            return
        arenas = esper.get_component(Arena)
        arena_rng = arenas[0][1].rng
        pellets = esper.get_component(Food)
        live = [(e, c) for e, c in rows if c[1].value is not None and not (c[4].terminated or c[4].truncated)]
        for _, (f, action, _, _, _) in live:
            dx, dy = MOVES[int(action.value)]
            f.x = min(max(f.x + dx, 0.0), ARENA)
            f.y = min(max(f.y + dy, 0.0), ARENA)
            f.ticks += 1
        if not live:
            return
        positions = np.array([(c[0].x, c[0].y) for _, c in live])
        food = np.array([(p.x, p.y) for _, p in pellets])
        # each pellet within reach goes to its nearest forager and reappears elsewhere
        d2 = ((food[None, :, :] - positions[:, None, :]) ** 2).sum(-1)
        eaten_by = d2.argmin(axis=0)
        for j in np.flatnonzero(d2[eaten_by, np.arange(len(food))] <= EAT_RADIUS**2):
            _, (_, _, _, reward, _) = live[eaten_by[j]]
            reward.value += 1.0
            info = esper.try_component(live[eaten_by[j]][0], EpisodeInfo)
            if info is not None:
                info.extras["food"] = info.extras.get("food", 0.0) + 1.0
            pellet = pellets[j][1]
            pellet.x, pellet.y = arena_rng.uniform(0.0, ARENA, size=2)
            food[j] = (pellet.x, pellet.y)
        if len(live) > 1:
            a2 = ((positions[None, :, :] - positions[:, None, :]) ** 2).sum(-1)
            np.fill_diagonal(a2, np.inf)
            for i in np.flatnonzero(a2.min(axis=1) <= BUMP_RADIUS**2):
                live[i][1][3].value -= BUMP_COST
        obs = _observe(positions, food)
        for k, (_, (f, _, observation, _, done)) in enumerate(live):
            observation.value = obs[k]
            done.truncated = f.ticks >= EPISODE_TICKS


def reset(entity: int, seed: int | None = None) -> None:
    """Reset hook: a new random spot, a fresh tick count, and every forager's observation refreshed.

    A seeded reset (Gymnasium's ``reset(seed=...)``) also reseeds the arena and re-places every pellet,
    so the same seed gives the same episode; unseeded resets (the plugin's) leave the shared arena alone.
    Either way the arena changed for everyone (pellets, or where this forager stands), so every forager's
    ``Observation`` is recomputed: none is left describing the arena before the reset.
    """
    f = esper.component_for_entity(entity, Forager)
    if seed is not None:
        f.rng = np.random.default_rng(seed)
        arena = esper.get_component(Arena)[0][1]
        arena.rng = np.random.default_rng(seed)
        for _, pellet in esper.get_component(Food):
            pellet.x, pellet.y = arena.rng.uniform(0.0, ARENA, size=2)
    f.x, f.y = f.rng.uniform(0.0, ARENA, size=2)
    f.ticks = 0
    info = esper.try_component(entity, EpisodeInfo)
    if info is not None:
        info.extras = {"food": 0.0}
    observe_all()


def observe_all() -> None:
    """Write every forager's ``Observation`` from the arena as it is now (all foragers count as neighbours)."""
    rows = esper.get_components(Forager, Observation)
    positions = np.array([(f.x, f.y) for _, (f, _) in rows])
    food = np.array([(p.x, p.y) for _, p in esper.get_component(Food)])
    for (_, (_, observation)), obs in zip(rows, _observe(positions, food)):
        observation.value = obs


def build(n_agents: int = 16, seed: int | None = 0, policy: str = "foragers", n_food: int | None = None) -> list[int]:
    """An arena with ``n_agents`` foragers (forager i seeded ``seed + 1 + i``), ``n_food`` pellets (default:
    as many as agents, at least 4) and the processor, in the current esper world."""
    if n_agents < 1:
        raise ValueError(f"n_agents must be >= 1, got {n_agents!r}")
    rng = np.random.default_rng(seed)
    if esper.get_processor(ForageProcessor) is None:
        esper.add_processor(ForageProcessor(), priority=0)
    if not esper.get_component(Arena):
        esper.create_entity(Arena(rng))
    n_food = max(4, n_agents) if n_food is None else n_food
    if n_food < 2:
        raise ValueError(f"n_food must be >= 2 (observations show the two nearest pellets), got {n_food!r}")
    for _ in range(n_food):
        esper.create_entity(Food(*rng.uniform(0.0, ARENA, size=2)))
    entities = []
    for i in range(n_agents):
        f = Forager(rng=np.random.default_rng(None if seed is None else seed + 1 + i))
        f.x, f.y = f.rng.uniform(0.0, ARENA, size=2)
        entities.append(esper.create_entity(
            *agent_components(policy, np.zeros(8, dtype=np.float32)), EpisodeInfo({"food": 0.0}), f))
    observe_all()
    return entities


def factory(policy: str = "foragers"):
    return lambda n_envs, seed: build(n_envs, seed, policy)


def make_game() -> Game:
    """Foragers as an ecs-rl game (``ecs-rl train foragers``)."""
    return Game(
        name="foragers", title="Foragers", policies={"foragers": (observation_space, action_space)},
        build=build, reset=reset, draw="ecs_rl.render.foragers:draw_world", window=(640, 640), sim_hz=20.0,
        keys={"up": 1, "down": 2, "left": 3, "right": 4},
        presets={"dqn": preset_from("foragers_dqn"), "ppo": preset_from("foragers_ppo")},
        envs=16, default_steps=100_000, eval_episodes=16,
    )
