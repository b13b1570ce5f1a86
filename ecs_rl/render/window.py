"""A pygame window for any esper game: fixed-rate simulation, frame-rate drawing, a HUD, speed keys.

Keys: SPACE pause, UP / + faster, DOWN / - slower, R rendering on/off (off: simulate flat out),
ESC or closing the window quits. The game supplies ``draw(surface)`` and the HUD lines.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import esper
import pygame

from ..ecs.runner import FixedStep

BACKGROUND = (245, 247, 250)
HUD_TEXT, HUD_BACK = (20, 20, 28), (255, 255, 255, 200)


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
                elif event.key in (pygame.K_UP, pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
                    self.speed = min(self.speed * 2, 256.0)
                elif event.key in (pygame.K_DOWN, pygame.K_MINUS, pygame.K_KP_MINUS):
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
            window.draw_hud(hud() + [f"speed x{window.speed:g}" + ("  (paused)" if window.paused else "")])
            pygame.display.flip()
        frames += 1
        if max_frames is not None and frames >= max_frames:
            break
    return ticks


class KeyboardInput:
    """Held keys -> an action: the most recently pressed held key of ``keys`` ("left" for K_LEFT, ...), else
    ``idle(tick)``. Tracks KEYDOWN / KEYUP events, so it works with any video driver."""

    def __init__(self, keys: dict[str, int], idle: Callable[[int], int]) -> None:
        self.codes = {getattr(pygame, f"K_{name.upper()}"): action for name, action in keys.items()}
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
