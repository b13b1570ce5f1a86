"""Core value types shared by every layer: episode status, act mode, transitions, episode records."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, Mapping, TypeVar

HELD_OUT_SEED = 1_000_000_000
"""Where ``ecs-rl eval`` starts its seeds by default: training-time evaluations stay far below it."""

Obs = TypeVar("Obs")
Act = TypeVar("Act")


class EpisodeStatus(str, Enum):
    """Where an episode stands after a step (Gymnasium's terminated / truncated kept apart)."""

    RUNNING = "running"
    TERMINATED = "terminated"  # a terminal state of the task: no bootstrapping past it
    TRUNCATED = "truncated"  # cut short (time limit, entity removed): bootstrap from next_obs

    @property
    def is_done(self) -> bool:
        return self is not EpisodeStatus.RUNNING

    @classmethod
    def from_flags(cls, terminated: bool, truncated: bool) -> "EpisodeStatus":
        """Status from Gymnasium's two flags; termination wins when both are set."""
        if terminated:
            return cls.TERMINATED
        if truncated:
            return cls.TRUNCATED
        return cls.RUNNING


class ActMode(str, Enum):
    """How an agent picks actions: explore (epsilon-greedy, sampling) or exploit (greedy)."""

    EXPLORE = "explore"
    EXPLOIT = "exploit"


@dataclass(slots=True)
class Experience(Generic[Obs, Act]):
    """One transition. ``next_obs`` is the true final observation when the episode ended.

    ``ticks`` is how many world ticks the transition spans (an entity with a decision period k
    repeats its action for k ticks): its ``reward`` is already discounted within the span,
    ``sum_i gamma^i r_i``, and an agent bootstraps past it with ``gamma ** ticks``.
    ``next_mask`` is the bool array of actions legal at ``next_obs`` (None: all legal), which a
    bootstrapping learner maximises over.
    """

    obs: Obs
    action: Act
    reward: float
    next_obs: Obs
    status: EpisodeStatus = EpisodeStatus.RUNNING
    agent_id: int = 0
    ticks: int = 1
    next_mask: Any = None

    @property
    def terminated(self) -> bool:
        return self.status is EpisodeStatus.TERMINATED

    @property
    def truncated(self) -> bool:
        return self.status is EpisodeStatus.TRUNCATED

    @property
    def done(self) -> bool:
        return self.status is not EpisodeStatus.RUNNING


_STATUS = (EpisodeStatus.RUNNING, EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED)


@dataclass(slots=True)
class Transitions:
    """Many transitions as arrays, row ``i`` the :class:`Experience` ``experience(i)``: what the esper plugin
    hands a session each tick (one row per agent whose decision closed), without an object per agent.

    ``obs`` and ``next_obs`` ``(n, *obs_shape)``, ``actions`` ``(n, ...)``, ``rewards`` ``(n,)`` float64,
    ``status`` ``(n,)`` codes (0 running, 1 terminated, 2 truncated), ``agent_ids`` and ``ticks`` ``(n,)``
    int64, ``next_masks`` ``(n, n_actions)`` bool or None (no row has a mask; a row without one is all
    legal). Slicing gives the rows in between; an agent that takes arrays has ``observe_transitions``.
    """

    obs: Any
    actions: Any
    rewards: Any
    next_obs: Any
    status: Any
    agent_ids: Any
    ticks: Any
    next_masks: Any = None

    def __len__(self) -> int:
        return len(self.rewards)

    def __getitem__(self, rows: slice) -> "Transitions":
        if not isinstance(rows, slice):
            raise TypeError(f"Transitions take a slice of rows, got {rows!r} (experience(i) gives one row)")
        return Transitions(self.obs[rows], self.actions[rows], self.rewards[rows], self.next_obs[rows],
                           self.status[rows], self.agent_ids[rows], self.ticks[rows],
                           None if self.next_masks is None else self.next_masks[rows])

    @property
    def terminated(self) -> Any:
        return self.status == 1

    def experience(self, i: int) -> Experience:
        return Experience(self.obs[i], self.actions[i], float(self.rewards[i]), self.next_obs[i],
                          _STATUS[self.status[i]], int(self.agent_ids[i]), int(self.ticks[i]),
                          None if self.next_masks is None else self.next_masks[i])

    def experiences(self) -> list[Experience]:
        """The rows as :class:`Experience` objects (for an agent that observes them one at a time)."""
        return [self.experience(i) for i in range(len(self))]


def _finite(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


@dataclass(slots=True)
class EpisodeRecord:
    """What one finished episode amounts to: total reward, length, status and named extras.

    Extras (loss, epsilon, the game's own numbers) may be NaN, e.g. a loss before any update;
    JSON stores NaN as ``null`` and reads it back as NaN.
    """

    total_reward: float
    length: int
    status: EpisodeStatus = EpisodeStatus.TERMINATED
    extras: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.total_reward = _finite(self.total_reward, "EpisodeRecord.total_reward")
        if isinstance(self.length, bool) or int(self.length) != self.length or self.length < 0:
            raise ValueError(f"EpisodeRecord.length must be a whole number >= 0, got {self.length!r}")
        self.length = int(self.length)
        self.status = EpisodeStatus(self.status)
        clean: dict[str, float] = {}
        for key, value in dict(self.extras).items():
            if not isinstance(key, str):
                raise ValueError(f"EpisodeRecord.extras key must be a string, got {key!r}")
            try:
                clean[key] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"EpisodeRecord.extras[{key!r}] must be a number, got {value!r}") from None
        self.extras = clean

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN and infinities in extras become null)."""
        return {
            "total_reward": self.total_reward,
            "length": self.length,
            "status": self.status.value,
            "extras": {k: (v if math.isfinite(v) else None) for k, v in self.extras.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "EpisodeRecord":
        """Inverse of :meth:`to_json`; raises ``ValueError`` naming the missing or bad field."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an episode record must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("total_reward", "length", "status") if k not in data]
        if missing:
            raise ValueError(f"episode record is missing field(s) {', '.join(missing)}")
        try:
            status = EpisodeStatus(data["status"])
        except ValueError:
            raise ValueError(f"episode record has unknown status {data['status']!r}") from None
        extras = {k: (math.nan if v is None else v) for k, v in (data.get("extras") or {}).items()}
        return cls(data["total_reward"], data["length"], status, extras)
