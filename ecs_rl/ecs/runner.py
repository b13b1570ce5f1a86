"""Stepping a world: headless as fast as possible, or at a fixed simulation rate beside rendering."""

from __future__ import annotations

from typing import Callable

import esper

from .lifecycle import WorldError
from .plugin import Plugin


def step_world(until: int | Callable[[], bool] | None = None, *, plugin: Plugin | None = None, dt: float = 1 / 60,
        max_ticks: int | None = None) -> int:
    """Call ``esper.process(dt)`` until ``until`` ticks have run, ``until()`` is true, or ``plugin.done``.

    Returns the number of ticks run. With neither ``until`` nor ``plugin`` it refuses to loop forever.
    With ``plugin``, esper's current world must be the plugin's (else ``WorldError`` names both).

    Args:
        until: a number of ticks, or a function called before each tick that returns True to stop.
        plugin: an installed plugin: stop once it is done (every learning policy spent its budget).
        dt: the time step passed to ``esper.process``.
        max_ticks: stop after this many ticks in any case.
    """
    if until is None and plugin is None and max_ticks is None:
        raise ValueError("step_world() needs until=, plugin= or max_ticks= to know when to stop")
    if plugin is not None:
        if plugin.world is None:
            raise WorldError("step_world(plugin=...) got a plugin that is not installed in any world")
        plugin.life.check_world()
    ticks = 0
    stop = (lambda: ticks >= until) if isinstance(until, int) else until
    while True:
        if stop is not None and stop():
            break
        if plugin is not None and plugin.done:
            break
        if max_ticks is not None and ticks >= max_ticks:
            break
        esper.process(dt)
        ticks += 1
    return ticks


class FixedStep:
    """Decouples simulation ticks from render frames: each frame says how many ticks to run.

    ``speed`` scales simulated time per real second; at most ``max_ticks_per_frame`` run per frame
    (the rest is dropped, so a slow frame never snowballs).

    Args:
        rate_hz: simulation ticks per simulated second (``dt = 1 / rate_hz``).
        max_ticks_per_frame: the most ticks one frame may run.
    """

    def __init__(self, rate_hz: float = 50.0, max_ticks_per_frame: int = 1000) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz!r}")
        self.dt = 1.0 / rate_hz
        self.max_ticks_per_frame = max_ticks_per_frame
        self._accumulated = 0.0

    def advance(self, frame_seconds: float, speed: float = 1.0) -> int:
        """How many simulation ticks to run for a frame that took ``frame_seconds``.

        Args:
            frame_seconds: real time since the last frame.
            speed: simulated seconds per real second (2.0: twice as fast).
        """
        self._accumulated += max(0.0, frame_seconds) * speed
        ticks = int(self._accumulated / self.dt + 1e-9)  # tolerate float drift in the sum
        if ticks > self.max_ticks_per_frame:
            ticks, self._accumulated = self.max_ticks_per_frame, 0.0
        else:
            self._accumulated -= ticks * self.dt
        return ticks
