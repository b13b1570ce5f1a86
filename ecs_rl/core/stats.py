"""Episode statistics: aggregators, a tracker of named stats over episode records, a printable report."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping, Union

from .types import EpisodeRecord


class Aggregator:
    """Folds a stream of numbers into one value; NaN until the first value arrives."""

    def update(self, value: float) -> None:
        raise NotImplementedError

    @property
    def value(self) -> float:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Mean(Aggregator):
    """The mean of all values so far."""
    def __init__(self) -> None:
        self.reset()

    def update(self, value: float) -> None:
        """Add one value.

        Args:
            value: the number to fold in.
        """
        self._n += 1
        self._sum += value

    @property
    def value(self) -> float:
        """The mean so far (NaN before any value)."""
        return self._sum / self._n if self._n else math.nan

    def reset(self) -> None:
        """Forget every value."""
        self._n, self._sum = 0, 0.0


class Max(Aggregator):
    """The largest value so far."""
    def __init__(self) -> None:
        self.reset()

    def update(self, value: float) -> None:
        """Add one value.

        Args:
            value: the number to fold in.
        """
        self._value = value if math.isnan(self._value) else max(self._value, value)

    @property
    def value(self) -> float:
        """The largest value so far (NaN before any value)."""
        return self._value

    def reset(self) -> None:
        """Forget every value."""
        self._value = math.nan


class Min(Aggregator):
    """The smallest value so far."""
    def __init__(self) -> None:
        self.reset()

    def update(self, value: float) -> None:
        """Add one value.

        Args:
            value: the number to fold in.
        """
        self._value = value if math.isnan(self._value) else min(self._value, value)

    @property
    def value(self) -> float:
        """The smallest value so far (NaN before any value)."""
        return self._value

    def reset(self) -> None:
        """Forget every value."""
        self._value = math.nan


class Last(Aggregator):
    """The latest value."""
    def __init__(self) -> None:
        self.reset()

    def update(self, value: float) -> None:
        """Add one value.

        Args:
            value: the number to fold in.
        """
        self._value = value

    @property
    def value(self) -> float:
        """The latest value (NaN before any value)."""
        return self._value

    def reset(self) -> None:
        """Forget every value."""
        self._value = math.nan


class RollingMean(Aggregator):
    """Mean of the last ``window`` values."""

    def __init__(self, window: int = 100) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"RollingMean window must be an integer >= 1, got {window!r}")
        self.window = window
        self.reset()

    def update(self, value: float) -> None:
        """Add one value (the oldest of a full window drops out).

        Args:
            value: the number to fold in.
        """
        if len(self._values) == self.window:
            self._sum -= self._values[0]
        self._values.append(value)
        self._sum += value
        self._updates += 1
        if self._updates % (self.window * 16) == 0:  # bound float drift of the running sum
            self._sum = math.fsum(self._values)

    @property
    def value(self) -> float:
        """The mean of the last ``window`` values (NaN before any value)."""
        return self._sum / len(self._values) if self._values else math.nan

    def reset(self) -> None:
        """Forget every value."""
        self._values: deque[float] = deque(maxlen=self.window)
        self._sum = 0.0
        self._updates = 0

    def __repr__(self) -> str:
        return f"RollingMean({self.window})"


class Std(Aggregator):
    """Population standard deviation (Welford's update, numerically stable)."""

    def __init__(self) -> None:
        self.reset()

    def update(self, value: float) -> None:
        """Add one value.

        Args:
            value: the number to fold in.
        """
        self._n += 1
        delta = value - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (value - self._mean)

    @property
    def value(self) -> float:
        """The population standard deviation so far (NaN before any value)."""
        return math.sqrt(self._m2 / self._n) if self._n else math.nan

    def reset(self) -> None:
        """Forget every value."""
        self._n, self._mean, self._m2 = 0, 0.0, 0.0


@dataclass(frozen=True, slots=True)
class Extra:
    """Stat source: the named extra of a record (an episode without it leaves the stat unchanged)."""

    name: str


def extra(name: str) -> Extra:
    """A stat source reading the named extra of each episode record (``tracker.track("loss", extra("loss"), Mean())``).

    Args:
        name: the extra's name, as the agent's ``episode_extras`` or the game reports it.
    """
    return Extra(name)


#: A stat's source: "reward" (total reward), "length", ``extra(name)``, or a function of the record.
Source = Union[str, Extra, Callable[[EpisodeRecord], float]]
_NAMED_SOURCES = ("reward", "length")


def _reader(source: Source) -> Callable[[EpisodeRecord], float | None]:
    if isinstance(source, str):
        if source == "reward":
            return lambda r: r.total_reward
        if source == "length":
            return lambda r: float(r.length)
        raise ValueError(
            f"unknown stat source {source!r}: use 'reward', 'length', extra('name') or a function of the record"
        )
    if isinstance(source, Extra):
        return lambda r: r.extras.get(source.name)
    if callable(source):
        return source
    raise ValueError(f"unknown stat source {source!r}: use 'reward', 'length', extra('name') or a function")


@dataclass(slots=True)
class _Stat:
    source: Source
    read: Callable[[EpisodeRecord], float | None]
    aggregator: Aggregator


class StatsTracker:
    """Named statistics over episode records: ``tracker.track("loss", extra("loss"), Mean())``.

    NaN values (an extra with no data yet) are skipped rather than poisoning the aggregate.
    """

    def __init__(self) -> None:
        self._stats: dict[str, _Stat] = {}
        self.episodes = 0

    @classmethod
    def default(cls, window: int = 100) -> "StatsTracker":
        """Mean episode reward and length (ticks) over the last ``window`` episodes (the usual training curve),
        and the mean decisions per episode of agents with a decision period (their ``decisions`` extra)."""
        return (cls().track("mean_reward", "reward", RollingMean(window))
                .track("mean_length", "length", RollingMean(window))
                .track("mean_decisions", Extra("decisions"), RollingMean(window)))

    def track(self, name: str, source: Source, aggregator: Aggregator) -> "StatsTracker":
        """Track a statistic; returns the tracker, so calls chain.

        Args:
            name: the statistic's name in summaries and reports.
            source: ``"reward"`` (an episode's total reward), ``"length"``, ``extra(name)``, or a function of the
                ``EpisodeRecord`` returning a number.
            aggregator: how values fold into one: ``Mean()``, ``Max()``, ``Min()``, ``Last()``, ``RollingMean(n)``, ``Std()``.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"stat name must be a non-empty string, got {name!r}")
        if not isinstance(aggregator, Aggregator):
            raise ValueError(f"stat {name!r}: aggregator must be an Aggregator, got {aggregator!r}")
        self._stats[name] = _Stat(source, _reader(source), aggregator)
        return self

    def include(self, other: "StatsTracker", first: bool = False) -> "StatsTracker":
        """Also track ``other``'s stats that this tracker does not name (before its own with ``first``)."""
        if not isinstance(other, StatsTracker):
            raise ValueError(f"include() needs a StatsTracker, got {type(other).__name__}")
        added = {name: stat for name, stat in other._stats.items() if name not in self._stats}
        self._stats = {**added, **self._stats} if first else {**self._stats, **added}
        return self

    @property
    def names(self) -> list[str]:
        """The tracked statistics' names, in the order they were added."""
        return list(self._stats)

    def update(self, record: EpisodeRecord) -> None:
        """Fold one episode into every statistic (a missing or NaN value leaves a statistic unchanged).

        Args:
            record: the episode that ended.
        """
        self.episodes += 1
        for name, stat in self._stats.items():
            value = stat.read(record)
            if value is None:
                continue
            value = float(value)
            if not math.isnan(value):
                stat.aggregator.update(value)

    def get(self, name: str) -> float:
        """The current value of one statistic; ``KeyError`` naming the tracked ones if there is none.

        Args:
            name: the statistic's name.
        """
        try:
            return self._stats[name].aggregator.value
        except KeyError:
            raise KeyError(f"no stat named {name!r}; tracked: {', '.join(self._stats) or 'none'}") from None

    def summary(self) -> dict[str, float]:
        """Every statistic's current value, by name."""
        return {name: stat.aggregator.value for name, stat in self._stats.items()}

    def reset(self) -> None:
        """Forget every episode (the statistics stay tracked)."""
        self.episodes = 0
        for stat in self._stats.values():
            stat.aggregator.reset()


def format_table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """A plain aligned text table; ``align`` has one letter a column, ``l`` or ``r`` (default: ``l`` then ``r``)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def format_number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e12:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1e-2 or abs(value) >= 1e6 else f"{value:,.3f}"


_UNIT_LABELS = {"mean_length": "mean_length (ticks)", "mean_decisions": "mean_decisions (steps)"}


@dataclass(slots=True)
class EvalReport:
    """A printable snapshot of a session's (or an evaluation's) statistics."""

    n_episodes: int
    stats: Mapping[str, float]
    total_steps: int = 0
    total_episodes: int = 0
    title: str = "Evaluation report"
    info: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        # steps are decisions, an episode's length is ticks: named where they differ (a decision period)
        decisions = self.stats.get("mean_decisions", math.nan)
        units = not math.isnan(decisions)
        rows = [["episodes (report)", format_number(self.n_episodes)]]
        if self.total_steps or self.total_episodes:  # a training report; an evaluation has neither
            rows += [["total steps (decisions)" if units else "total steps", format_number(self.total_steps)],
                     ["total episodes", format_number(self.total_episodes)]]
        rows += [[_UNIT_LABELS.get(name, name) if units else name, format_number(value)]
                 for name, value in self.stats.items() if units or name != "mean_decisions"]
        rows += [[k, v] for k, v in self.info.items()]
        return f"{self.title}\n" + format_table(["stat", "value"], rows, align="ll")
