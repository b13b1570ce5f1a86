"""A pygame window for any esper game: fixed-rate simulation, frame-rate drawing, a HUD, speed keys.

Keys: SPACE pause, + faster, - slower, R rendering on/off (off: simulate flat out), ESC or closing the
window quits. The game supplies ``draw(surface)`` and the HUD lines. The arrow keys and every other key are
left to the game (``play``): no key does two things, and a game key map naming a window key is refused.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import esper
import pygame

from ..ecs.runner import FixedStep

BACKGROUND = (245, 247, 250)
HUD_TEXT, HUD_BACK = (20, 20, 28), (255, 255, 255, 200)

#: the window's own keys (pygame key names), shown in its HUD; a game's ``keys`` may not use them
WINDOW_KEYS = {"space": "pause", "plus": "faster", "equals": "faster", "kp_plus": "faster", "minus": "slower",
               "kp_minus": "slower", "r": "drawing on/off", "escape": "quit"}
KEYS_HELP = "+/- speed, space pause, r drawing, esc quit"
_FASTER = (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS)
_SLOWER = (pygame.K_MINUS, pygame.K_KP_MINUS)


def key_code(name: str) -> int | None:
    """pygame's code for a key name as the game specs write them ("left", "a", "kp_4"), or None."""
    for attr in (f"K_{name}", f"K_{name.upper()}", f"K_{name.lower()}"):
        code = getattr(pygame, attr, None)
        if isinstance(code, int):
            return code
    return None


class Window:
    def __init__(self, size: tuple[int, int], title: str, fps: int = 60) -> None:
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode(size)
        pygame.display.set_caption(title)
        self.clock = pygame.time.Clock()
        self.fps = fps
        self.font = pygame.font.Font(None, 22)
        self.open = True
        self.paused = False
        self.rendering = True
        self.speed = 1.0

    def poll(self) -> list[pygame.event.Event]:
        """Handle window and speed keys; return the events for the game's own input handling."""
        events = pygame.event.get()
        for event in events:
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                self.open = False
            elif event.type == pygame.KEYDOWN:
                if event.key == pygame.K_SPACE:
                    self.paused = not self.paused
                elif event.key in _FASTER:
                    self.speed = min(self.speed * 2, 256.0)
                elif event.key in _SLOWER:
                    self.speed = max(self.speed / 2, 1 / 16)
                elif event.key == pygame.K_r:
                    self.rendering = not self.rendering
        return events

    def draw_hud(self, lines: Sequence[str]) -> None:
        surfaces = [self.font.render(line, True, HUD_TEXT) for line in lines]
        if not surfaces:
            return
        width = max(s.get_width() for s in surfaces) + 12
        height = sum(s.get_height() + 2 for s in surfaces) + 8
        back = pygame.Surface((width, height), pygame.SRCALPHA)
        back.fill(HUD_BACK)
        self.screen.blit(back, (6, 6))
        y = 10
        for s in surfaces:
            self.screen.blit(s, (12, y))
            y += s.get_height() + 2

    def screenshot(self, path: str) -> None:
        pygame.image.save(self.screen, path)

    def close(self) -> None:
        pygame.display.quit()


def live_loop(window: Window, clock: FixedStep, draw: Callable[[pygame.Surface], None],
              hud: Callable[[], list[str]], stop: Callable[[], bool] = lambda: False,
              on_events: Callable[[list[pygame.event.Event], int], None] | None = None,
              max_frames: int | None = None) -> int:
    """Run the current esper world in ``window`` until it closes, ``stop()`` or ``max_frames``.

    Simulation ticks come from ``clock`` (fixed rate, scaled by the window's speed); with rendering
    off, each frame simulates flat out for one frame's time. Returns the ticks simulated.
    """
    ticks = frames = 0
    while window.open and not stop():
        events = window.poll()
        if on_events is not None:
            on_events(events, ticks)
        elapsed = window.clock.tick(window.fps if window.rendering else 0) / 1000.0
        if not window.paused:
            if window.rendering:
                for _ in range(clock.advance(elapsed, window.speed)):
                    esper.process(clock.dt)
                    ticks += 1
                    if stop():
                        break
            else:
                deadline = time.perf_counter() + 1.0 / window.fps
                while time.perf_counter() < deadline and not stop():
                    esper.process(clock.dt)
                    ticks += 1
        if window.rendering:
            draw(window.screen)
            window.draw_hud(hud() + [f"speed x{window.speed:g}" + ("  (paused)" if window.paused else "")
                                     + f"   keys: {KEYS_HELP}"])
            pygame.display.flip()
        frames += 1
        if max_frames is not None and frames >= max_frames:
            break
    return ticks


class KeyboardInput:
    """Held keys -> an action: the most recently pressed held key of ``keys`` ("left" for K_LEFT, ...), else
    ``idle(tick)``. Tracks KEYDOWN / KEYUP events, so it works with any video driver. A key name pygame does
    not know, or one of the window's own keys (:data:`WINDOW_KEYS`), is a ``ValueError`` naming it."""

    def __init__(self, keys: dict[str, int], idle: Callable[[int], int]) -> None:
        self.codes = {}
        for name, action in keys.items():
            lower = str(name).lower()
            if lower in WINDOW_KEYS:
                raise ValueError(f"key {name!r} is the window's ({WINDOW_KEYS[lower]}); the game's keys must be others")
            code = key_code(str(name))
            if code is None:
                raise ValueError(f"key {name!r} is not a pygame key name (such as 'left', 'a', 'kp_4')")
            self.codes[code] = action
        self.idle = idle
        self.held: list[int] = []

    def handle(self, events: Sequence[pygame.event.Event]) -> None:
        for event in events:
            if event.type == pygame.KEYDOWN and event.key in self.codes and event.key not in self.held:
                self.held.append(event.key)
            elif event.type == pygame.KEYUP and event.key in self.held:
                self.held.remove(event.key)

    def action(self, tick: int) -> int:
        return self.codes[self.held[-1]] if self.held else self.idle(tick)
