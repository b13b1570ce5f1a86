"""Events the plugin dispatches through esper's event system (handlers are per world)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.types import EpisodeStatus

EPISODE_END = "ecs_rl.episode_end"  # handler(event: EpisodeEnd)
TRAINING_DONE = "ecs_rl.training_done"  # handler(): every learning session is done


@dataclass(slots=True)
class EpisodeEnd:
    """One agent entity's episode ended (or was cut short by deletion or a manual reset)."""

    entity: int
    policy: str
    agent_id: int
    status: EpisodeStatus
    total_reward: float
    length: int
    extras: dict[str, float] = field(default_factory=dict)
