"""What an evaluation is (its world, episodes, seeds, tick limit) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..core.types import HELD_OUT_SEED, EpisodeRecord, EpisodeStatus  # noqa: F401 (re-exported)

#: Builds a world's entities and game processors in the current esper world: ``factory(n_agents, seed)``.
WorldFactory = Callable[[int, "int | None"], Any]



@dataclass(slots=True)
class Evaluation:
    """Every ``every`` steps of a learning session, play greedy episodes in a world of their own.

    Two modes, both with a bounded cost (each result says its ``ticks`` and ``seconds``):

    - **episodes** (default): the world is built by ``factory(episodes, seed)``; each agent entity the
      factory built plays one scored episode (entities the game spawns later play along unscored, so
      short episodes are not favoured). It stops once those episodes ended, or after ``max_ticks``
      ticks, when the ones still running are recorded as truncated (extra ``unfinished`` = 1) and counted.
    - **ticks** (``ticks=T``): the world (``factory(episodes, seed)``: ``episodes`` is then the number of
      agents it starts with) runs exactly ``T`` ticks and every episode that ends in them is scored,
      newborns' included; ``EvalResult.rates`` gives per-policy rates (episode ends, deaths and
      each extra per 1000 ticks, mean lifetime). Fits a population world with births and deaths.

    Each evaluation gets fresh start seeds: the one at step s uses base seed
    ``seed + (s // every) * episodes`` (the factory seeds entity i with base + i), so ``best`` is
    chosen on episodes later evaluations do not replay.
    """

    factory: WorldFactory
    every: int = 10_000
    episodes: int = 20
    seed: int = 10_000
    dt: float = 1 / 60
    max_ticks: int = 10_000
    ticks: int | None = None

    def __post_init__(self) -> None:
        if self.every < 1 or self.episodes < 1 or self.max_ticks < 1:
            raise ValueError(f"Evaluation.every, .episodes and .max_ticks must be >= 1, got {self.every}, "
                             f"{self.episodes}, {self.max_ticks}")
        if self.ticks is not None and (isinstance(self.ticks, bool) or not isinstance(self.ticks, int)
                                       or self.ticks < 1):
            raise ValueError(f"Evaluation.ticks must be an integer >= 1 (or None), got {self.ticks!r}")

    @property
    def mode(self) -> str:
        """``"episodes"`` (the factory's agents, one episode each) or ``"ticks"`` (every episode ending in ``ticks`` ticks)."""
        return "episodes" if self.ticks is None else "ticks"

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
    mode: str = "episodes"  # "episodes" (the factory's agents, one episode each) or "ticks" (every end in a window)

    @property
    def mean_reward(self) -> float:
        """The mean total reward of the episodes (NaN without episodes)."""
        return float(np.mean([r.total_reward for r in self.records])) if self.records else float("nan")

    @property
    def unfinished(self) -> int:
        """Episodes still running at the tick limit (recorded as truncated)."""
        return sum(1 for r in self.records if r.extras.get("unfinished") == 1.0)

    @property
    def rates(self) -> dict[str, float]:
        """Per 1000 ticks: episodes that ended (``ended``), of them terminated (``terminated``: deaths,
        catches), and each extra summed over the ended episodes (``<extra>``); beside them the mean
        ``lifetime`` and ``reward`` of ended episodes and the ``unfinished`` count at the end."""
        ended = [r for r in self.records if r.extras.get("unfinished") != 1.0]
        per = 1000.0 / self.ticks if self.ticks else float("nan")
        out = {"ended": len(ended) * per,
               "terminated": sum(1 for r in ended if r.status is EpisodeStatus.TERMINATED) * per}
        for name in sorted({k for r in ended for k in r.extras}):
            out[name] = float(sum(r.extras.get(name, 0.0) for r in ended)) * per
        out["lifetime"] = float(np.mean([r.length for r in ended])) if ended else float("nan")
        out["reward"] = float(np.mean([r.total_reward for r in ended])) if ended else float("nan")
        out["unfinished"] = float(self.unfinished)
        return out
