"""Foragers: many agents share one arena (and usually one policy), chase food and avoid bumping.

Each tick an agent moves one step (stay / up / down / left / right). Touching a pellet earns +1 and
the pellet reappears elsewhere; bumping into another agent costs 0.1. Episodes last 200 ticks
(truncated). The observation (8 numbers) holds the offsets to the two nearest pellets and to the
nearest other agent, scaled by the arena size, and the agent's own position in [-1, 1].

The arena is ``ARENA`` (10) units square unless built with another ``size``: 16 foragers and 16 pellets
in 10 x 10 is the demo game; many more in the same square crowd it (256 foragers there bump on most
ticks, and a random walk out-eats heading for the nearest pellet), so a swarm gets a larger arena at
the same density (``swarm_size``).

The arena is computed as arrays: one numpy pass per tick over every (forager, pellet) and
(forager, forager) pair, and a reset costs O(n): the arena remembers each forager's nearest
neighbour from the last pass, so moving one forager rewrites only the observations it changes.
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
class Pass:
    """The arena as the last full pass saw it: every forager (entity -> row, its components), positions,
    nearest neighbours (row, squared distance; -1 and inf when alone) and observations. Valid while the
    foragers are the same (esper's query unchanged) and stand where it saw them."""

    rows: list  # esper.get_components(Forager, Observation) when it was made
    index: dict[int, int]
    foragers: list[Forager]
    observations: list[Observation]
    pos: np.ndarray  # (n, 2)
    near: np.ndarray  # (n,)
    near_d2: np.ndarray  # (n,)
    obs: np.ndarray  # (n, 8), private: foragers get copies or fresh rows


@dataclass(slots=True)
class Arena:
    """One per world: the pellets (an (m, 2) array of positions), the RNG that places them, the side length."""

    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    food: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    last: Pass | None = None
    size: float = ARENA


def swarm_size(n_agents: int) -> float:
    """The side of a square arena holding ``n_agents`` foragers at the demo game's density (16 in 10 x 10)."""
    return ARENA * max(1.0, (n_agents / 16) ** 0.5)


def _d2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between the points of ``a`` (n, 2) and ``b`` (m, 2): (n, m)."""
    dx = np.subtract.outer(a[:, 0], b[:, 0])
    dy = np.subtract.outer(a[:, 1], b[:, 1])
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def _neighbours(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each forager's nearest other forager (row) and its squared distance; -1 and inf when alone."""
    n = len(pos)
    if n < 2:
        return np.full(n, -1), np.full(n, np.inf)
    a2 = _d2(pos, pos)
    np.fill_diagonal(a2, np.inf)
    near = a2.argmin(axis=1)
    return near, a2[np.arange(n), near]


def _rows(pos: np.ndarray, food: np.ndarray, d2: np.ndarray, to_near: np.ndarray, size: float) -> np.ndarray:
    """Observations (n, 8) from positions, pellets, forager-to-pellet squared distances ``d2`` (overwritten),
    the offsets to the nearest neighbours and the arena's side."""
    rows = np.arange(len(pos))
    first = d2.argmin(axis=1)
    d2[rows, first] = np.inf
    second = d2.argmin(axis=1)
    obs = np.concatenate([food[first] - pos, food[second] - pos, to_near], axis=1) / size
    return np.clip(np.concatenate([obs, pos / size * 2 - 1], axis=1), -1.0, 1.0).astype(np.float32)


def _offsets(pos: np.ndarray, near: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Offsets from the foragers ``rows`` to their nearest neighbours (zero for a forager alone)."""
    near = near[rows]
    return np.where((near >= 0)[:, None], pos[near] - pos[rows], 0.0)


def _arena() -> Arena:
    arenas = esper.get_component(Arena)
    if not arenas:
        raise ValueError(f"esper world {esper.current_world!r} has foragers but no Arena: build it with foragers.build")
    return arenas[0][1]


class ForageProcessor(esper.Processor):
    """Moves foragers, feeds them, charges bumps, ends episodes, writes observations."""

    def process(self, *args, **kwargs) -> None:
        rows = esper.get_components(Forager, Action, Observation, Reward, Done)
        if not rows:
            return
        arena = _arena()
        live = [(e, c) for e, c in rows if c[1].value is not None and not (c[4].terminated or c[4].truncated)]
        if not live:
            arena.last = None
            return
        n = len(live)
        actions = np.fromiter((c[1].value for _, c in live), dtype=np.intp, count=n)
        pos = np.array([(c[0].x, c[0].y) for _, c in live]) + MOVES[actions]
        np.clip(pos, 0.0, arena.size, out=pos)
        for (_, (f, *_)), (x, y) in zip(live, pos.tolist()):
            f.x, f.y = x, y
            f.ticks += 1
        # each pellet within reach goes to its nearest forager and reappears elsewhere
        food = arena.food
        d2 = _d2(pos, food)
        eaten_by = d2.argmin(axis=0)
        eaten = np.flatnonzero(d2[eaten_by, np.arange(len(food))] <= EAT_RADIUS**2)
        if len(eaten):
            eaters, counts = np.unique(eaten_by[eaten], return_counts=True)
            for k, count in zip(eaters.tolist(), counts.astype(float).tolist()):
                entity, comps = live[k]
                comps[3].value += count
                info = esper.try_component(entity, EpisodeInfo)
                if info is not None:
                    info.extras["food"] = info.extras.get("food", 0.0) + count
            food[eaten] = arena.rng.uniform(0.0, arena.size, size=(len(eaten), 2))  # in pellet order
            d2[:, eaten] = _d2(pos, food[eaten])
        near, near_d2 = _neighbours(pos)
        for i in np.flatnonzero(near_d2 <= BUMP_RADIUS**2):
            live[i][1][3].value -= BUMP_COST
        obs = _rows(pos, food, d2, _offsets(pos, near), arena.size)
        for (_, (f, _, observation, _, done)), row in zip(live, obs):
            observation.value = row
            done.truncated = f.ticks >= EPISODE_TICKS
        # remembered for O(n) resets only when every forager took part (they all count as neighbours)
        everyone = esper.get_components(Forager, Observation)
        arena.last = None if n != len(everyone) else Pass(
            everyone, {e: k for k, (e, _) in enumerate(live)}, [c[0] for _, c in live], [c[2] for _, c in live],
            pos, near, near_d2, obs.copy())


def reset(entity: int, seed: int | None = None) -> None:
    """Reset hook: a new random spot, a fresh tick count, and every forager's observation refreshed.

    A seeded reset (Gymnasium's ``reset(seed=...)``) also reseeds the arena and re-places every pellet,
    so the same seed gives the same episode; unseeded resets (the plugin's) leave the shared arena alone.
    Either way the arena changed for everyone (pellets, or where this forager stands), so every forager's
    ``Observation`` is brought up to date: none is left describing the arena before the reset. An unseeded
    reset costs O(n): only the foragers whose nearest neighbour changes get a new observation.
    """
    f = esper.component_for_entity(entity, Forager)
    arena = _arena()
    if seed is not None:
        f.rng = np.random.default_rng(seed)
        arena.rng = np.random.default_rng(seed)
        for j in range(len(arena.food)):
            arena.food[j] = arena.rng.uniform(0.0, arena.size, size=2)
    f.x, f.y = f.rng.uniform(0.0, arena.size, size=2)
    f.ticks = 0
    info = esper.try_component(entity, EpisodeInfo)
    if info is not None:
        info.extras = {"food": 0.0}
    if seed is not None or not _moved(arena, entity, f):
        observe_all()


def _moved(arena: Arena, entity: int, f: Forager) -> bool:
    """Update the observations after ``entity`` moved, from the last pass; False if that pass is stale
    (foragers came, went or moved since), and the caller recomputes everything."""
    last = arena.last
    if last is None or esper.get_components(Forager, Observation) is not last.rows or entity not in last.index:
        return False
    i = last.index[entity]
    pos = last.pos
    now = np.array([(g.x, g.y) for g in last.foragers])
    now[i] = pos[i]
    if not np.array_equal(now, pos):
        return False
    pos[i] = f.x, f.y
    near, near_d2, obs = last.near, last.near_d2, last.obs
    d = ((pos - pos[i]) ** 2).sum(axis=1)
    d[i] = np.inf
    changed = [i]
    for j in np.flatnonzero(near == i):  # i was their nearest: look again
        dj = ((pos - pos[j]) ** 2).sum(axis=1)
        dj[j] = np.inf
        near[j] = dj.argmin()
        near_d2[j] = dj[near[j]]
        changed.append(int(j))
    closer = np.flatnonzero(d < near_d2)  # i is now nearer to them than their nearest
    near[closer], near_d2[closer] = i, d[closer]
    changed.extend(closer.tolist())
    if len(pos) > 1:
        near[i] = d.argmin()
        near_d2[i] = d[near[i]]
    changed = np.array(sorted(set(changed)))
    obs[changed] = _rows(pos[changed], arena.food, _d2(pos[changed], arena.food), _offsets(pos, near, changed),
                         arena.size)
    for k in changed.tolist():
        last.observations[k].value = obs[k].copy()
    return True


def observe_all() -> None:
    """Write every forager's ``Observation`` from the arena as it is now (all foragers count as neighbours)."""
    rows = esper.get_components(Forager, Observation)
    arena = _arena()
    if not rows:
        arena.last = None
        return
    pos = np.array([(f.x, f.y) for _, (f, _) in rows])
    near, near_d2 = _neighbours(pos)
    obs = _rows(pos, arena.food, _d2(pos, arena.food), _offsets(pos, near), arena.size)
    for (_, (_, observation)), row in zip(rows, obs):
        observation.value = row
    arena.last = Pass(rows, {e: k for k, (e, _) in enumerate(rows)}, [f for _, (f, _) in rows],
                      [o for _, (_, o) in rows], pos, near, near_d2, obs.copy())


def build(n_agents: int = 16, seed: int | None = 0, policy: str = "foragers", n_food: int | None = None,
          size: float | None = None) -> list[int]:
    """An arena with ``n_agents`` foragers (forager i seeded ``seed + 1 + i``), ``n_food`` pellets (default:
    as many as agents, at least 4) and the processor, in the current esper world; ``size``: the arena's
    side (default ``ARENA``; foragers added to an existing arena join it at its size)."""
    if n_agents < 1:
        raise ValueError(f"n_agents must be >= 1, got {n_agents!r}")
    if size is not None and not (isinstance(size, (int, float)) and 0.0 < size < np.inf):
        raise ValueError(f"foragers arena size must be a positive number, got {size!r}")
    rng = np.random.default_rng(seed)
    if esper.get_processor(ForageProcessor) is None:
        esper.add_processor(ForageProcessor(), priority=0)
    n_food = max(4, n_agents) if n_food is None else n_food
    if n_food < 2:
        raise ValueError(f"n_food must be >= 2 (observations show the two nearest pellets), got {n_food!r}")
    arenas = esper.get_component(Arena)
    if arenas and size is not None and float(size) != arenas[0][1].size:
        raise ValueError(f"esper world {esper.current_world!r} has a foragers arena of size {arenas[0][1].size:g}; "
                         f"cannot add foragers with size={size!r}")
    arena = arenas[0][1] if arenas else esper.component_for_entity(
        esper.create_entity(Arena(rng, size=ARENA if size is None else float(size))), Arena)
    arena.food = np.concatenate([arena.food, rng.uniform(0.0, arena.size, size=(n_food, 2))])
    entities = []
    for i in range(n_agents):
        f = Forager(rng=np.random.default_rng(None if seed is None else seed + 1 + i))
        f.x, f.y = f.rng.uniform(0.0, arena.size, size=2)
        entities.append(esper.create_entity(
            *agent_components(policy, np.zeros(8, dtype=np.float32)), EpisodeInfo({"food": 0.0}), f))
    observe_all()
    return entities


def factory(policy: str = "foragers", size: float | None = None):
    return lambda n_envs, seed: build(n_envs, seed, policy, size=size)


def make_game() -> Game:
    """Foragers as an ecs-rl game (``ecs-rl train foragers``)."""
    return Game(
        name="foragers", title="Foragers", policies={"foragers": (observation_space, action_space)},
        build=build, reset=reset, draw="ecs_rl.render.foragers:draw_world", window=(640, 640), sim_hz=20.0,
        keys={"up": 1, "down": 2, "left": 3, "right": 4},
        presets={"dqn": preset_from("foragers_dqn"), "ppo": preset_from("foragers_ppo")},
        envs=16, default_steps=100_000, eval_episodes=16,
    )
