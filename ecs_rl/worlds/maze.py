"""A grid maze where walls are illegal moves: the reference world for action masks.

Each agent starts on a random open cell and walks (up, right, down, left) to the goal: +1 there
(terminated), -0.01 a step, and a move into a wall keeps it in place for -0.1 more. Episodes are
truncated after 50 steps. The observation is the one-hot of the agent's cell. Built with
``masked=True`` each agent carries an ``ActionMask`` the maze rewrites every step (walls illegal),
so its learner never tries a wall; with ``masked=False`` it must learn that by bumping into them.
Several agents share the maze without meeting (each walks alone). Each episode logs its
``wall_bumps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import esper
import gymnasium as gym
import numpy as np

from ..ecs.components import Action, ActionMask, Done, EpisodeInfo, Observation, Reward, agent_components

LAYOUT = (
    "#########",
    "#...#...#",
    "#.#.#.#.#",
    "#.#...#.#",
    "#.#####.#",
    "#...#...#",
    "###.#.#.#",
    "#.....#G#",
    "#########",
)
MAX_STEPS = 50
STEP_REWARD, WALL_REWARD, GOAL_REWARD = -0.01, -0.1, 1.0
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left: (row, column)

OPEN = tuple((r, c) for r, line in enumerate(LAYOUT) for c, ch in enumerate(line) if ch != "#")
CELL = {pos: i for i, pos in enumerate(OPEN)}  # open cell -> its index in the observation
GOAL = next((r, c) for r, line in enumerate(LAYOUT) for c, ch in enumerate(line) if ch == "G")
STARTS = tuple(pos for pos in OPEN if pos != GOAL)
LEGAL = np.array([[(r + dr, c + dc) in CELL for dr, dc in MOVES] for r, c in OPEN], dtype=bool)
LEGAL.flags.writeable = False  # one read-only row per cell, shared by every agent's ActionMask

observation_space = gym.spaces.Box(0.0, 1.0, (len(OPEN),), dtype=np.float32)
action_space = gym.spaces.Discrete(len(MOVES))


@dataclass(slots=True)
class MazeWalker:
    """One agent's place in the maze, its step count and its own RNG for start cells."""

    pos: tuple[int, int] = (1, 1)
    steps: int = 0
    bumps: int = 0  # moves into a wall this episode
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def observation(self) -> np.ndarray:
        obs = np.zeros(len(OPEN), dtype=np.float32)
        obs[CELL[self.pos]] = 1.0
        return obs

    def legal(self) -> np.ndarray:
        """The moves that do not run into a wall (a read-only row of ``LEGAL``)."""
        return LEGAL[CELL[self.pos]]


class MazeProcessor(esper.Processor):
    """Moves every walker that has an action: wall bumps, rewards, the goal, the time limit, the next mask."""

    def process(self, *args, **kwargs) -> None:
        for entity, (walker, action, obs, reward, done, info) in esper.get_components(
                MazeWalker, Action, Observation, Reward, Done, EpisodeInfo):
            if action.value is None or done.terminated or done.truncated:
                continue
            dr, dc = MOVES[int(action.value)]
            target = (walker.pos[0] + dr, walker.pos[1] + dc)
            reward.value += STEP_REWARD
            if target in CELL:
                walker.pos = target
            else:
                reward.value += WALL_REWARD
                walker.bumps += 1
                info.extras["wall_bumps"] = walker.bumps
            walker.steps += 1
            obs.value = walker.observation()
            mask = esper.try_component(entity, ActionMask)
            if mask is not None:
                mask.value = walker.legal()
            if walker.pos == GOAL:
                reward.value += GOAL_REWARD
                done.terminated = True
            done.truncated = walker.steps >= MAX_STEPS


def _start(entity: int, walker: MazeWalker) -> None:
    walker.pos = STARTS[int(walker.rng.integers(len(STARTS)))]
    walker.steps = walker.bumps = 0
    esper.component_for_entity(entity, EpisodeInfo).extras["wall_bumps"] = 0
    esper.component_for_entity(entity, Observation).value = walker.observation()
    mask = esper.try_component(entity, ActionMask)
    if mask is not None:
        mask.value = walker.legal()


def reset(entity: int, seed: int | None = None) -> None:
    """The reset hook: a fresh random start cell (reseeding the walker's RNG if ``seed`` is given)."""
    walker = esper.component_for_entity(entity, MazeWalker)
    if seed is not None:
        walker.rng = np.random.default_rng(seed)
    _start(entity, walker)


def build(n_agents: int = 1, seed: int | None = 0, policy: str = "maze", masked: bool = True) -> list[int]:
    """Create ``n_agents`` walkers (walker i seeded ``seed + i``), with an ``ActionMask`` each if ``masked``,
    and the maze processor in the current esper world."""
    if n_agents < 1:
        raise ValueError(f"n_agents must be >= 1, got {n_agents!r}")
    if esper.get_processor(MazeProcessor) is None:
        esper.add_processor(MazeProcessor(), priority=0)
    entities = []
    for i in range(n_agents):
        walker = MazeWalker(rng=np.random.default_rng(None if seed is None else seed + i))
        extra = [ActionMask(walker.legal())] if masked else []
        entity = esper.create_entity(*agent_components(policy, walker.observation()), walker, EpisodeInfo(), *extra)
        _start(entity, walker)
        entities.append(entity)
    return entities


def factory(policy: str = "maze", masked: bool = True):
    """A world factory ``(n_agents, seed) -> entities`` for walkers of ``policy``."""
    return lambda n_agents, seed: build(n_agents, seed, policy, masked)
