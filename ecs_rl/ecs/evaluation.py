"""What an evaluation is (its world, episodes, seeds, tick limit) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..core.types import HELD_OUT_SEED, EpisodeRecord  # noqa: F401 (re-exported)

#: Builds a world's entities and game processors in the current esper world: ``factory(n_agents, seed)``.
WorldFactory = Callable[[int, "int | None"], Any]



@dataclass(slots=True)
class Evaluation:
    """Every ``every`` steps of a learning session, play greedy episodes in a world of their own.

    The world is built by ``factory(episodes, seed)``; each agent entity the factory built plays one
    scored episode (entities the game spawns later play along unscored). The evaluation ends when
    those episodes ended, or after ``max_ticks`` ticks (cost grows with it: a game with no time limit
    runs to it), when the episodes still running are recorded as truncated (extra ``unfinished`` = 1)
    and counted. Each evaluation gets fresh start
    seeds: the one at step s uses base seed ``seed + (s // every) * episodes`` (the factory seeds
    entity i with base + i), so ``best`` is chosen on episodes later evaluations do not replay.
    """

    factory: WorldFactory
    every: int = 10_000
    episodes: int = 20
    seed: int = 10_000
    dt: float = 1 / 60
    max_ticks: int = 10_000

    def __post_init__(self) -> None:
        if self.every < 1 or self.episodes < 1 or self.max_ticks < 1:
            raise ValueError(f"Evaluation.every, .episodes and .max_ticks must be >= 1, got {self.every}, "
                             f"{self.episodes}, {self.max_ticks}")

    def seed_at(self, step: int) -> int:
        """The base start seed of the evaluation made at ``step``."""
        return self.seed + (step // self.every) * self.episodes


@dataclass(slots=True)
class EvalResult:
    """The greedy (or any) episodes of one policy in one evaluation."""

    policy: str
    records: list[EpisodeRecord] = field(default_factory=list)
    step: int = 0  # the learning session's steps when it ran (0 outside training)
    seed: int | None = None  # the base start seed of its world
    ticks: int = 0  # world ticks it took
    seconds: float = 0.0  # wall time it took

    @property
    def mean_reward(self) -> float:
        return float(np.mean([r.total_reward for r in self.records])) if self.records else float("nan")

    @property
    def unfinished(self) -> int:
        """Episodes still running at the tick limit (recorded as truncated)."""
        return sum(1 for r in self.records if r.extras.get("unfinished") == 1.0)
