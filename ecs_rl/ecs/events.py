"""Events the plugin dispatches through esper's event system (handlers are per world)."""

from __future__ import annotations

import atexit
from dataclasses import dataclass, field

import esper

from ..core.types import EpisodeStatus

EPISODE_END = "ecs_rl.episode_end"  # handler(event: EpisodeEnd)
TRAINING_DONE = "ecs_rl.training_done"  # handler(): every learning session is done
MATCH_RESULT = "ecs_rl.match_result"  # handler(event: MatchResult): the game says who beat whom (self-play)


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


@dataclass(slots=True)
class MatchResult:
    """An encounter between two agent entities ended: ``winner`` beat ``loser`` (``draw``: neither did).

    A game that reports results dispatches one from its processor (between the plugin's decide and record
    processors, while both entities still exist): ``esper.dispatch_event(MATCH_RESULT, MatchResult(...))``.
    Self-play turns them into ratings (``ecs_rl.selfplay``); ``kind`` says what happened ("catch", ...)."""

    winner: int
    loser: int
    draw: bool = False
    kind: str = ""


_forgetting = False


def forget_handlers_at_exit() -> None:
    """At interpreter exit, drop every world's handlers of the plugin's events before Python collects them.

    esper holds handlers by weak reference, and when one is collected its clean-up removes it from the
    registry of whichever world is *current* then: a handler set in another world (a plugin's training world,
    say) raises ``KeyError`` there, printed as ``Exception ignored ...`` at exit. Called once by
    ``Plugin.install``; it only ever touches the plugin's own event names.
    """
    global _forgetting
    if not _forgetting:
        _forgetting = True
        atexit.register(_forget_handlers)


def _forget_handlers() -> None:
    current = esper.current_world
    for world in esper.list_worlds():
        esper.switch_world(world)
        for name in (EPISODE_END, TRAINING_DONE, MATCH_RESULT):
            esper.event_registry.pop(name, None)
    esper.switch_world(current)
