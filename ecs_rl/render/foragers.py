"""Drawing the foragers arena: pellets, agents (the human's one highlighted), bump rings."""

from __future__ import annotations

import esper
import pygame

from ..ecs.components import EpisodeInfo
from ..worlds.foragers import ARENA, BUMP_RADIUS, Arena, Forager

GRASS, BORDER, PELLET = (233, 240, 226), (90, 110, 80), (60, 160, 70)
AGENT, HUMAN, EYE, OUTLINE = (66, 110, 200), (220, 90, 40), (250, 250, 250), (30, 40, 70)


def draw_world(surface: pygame.Surface, human: int | None = None) -> None:
    width, height = surface.get_size()
    margin = 20
    arenas = esper.get_component(Arena)
    side = arenas[0][1].size if arenas else ARENA
    scale = (min(width, height) - 2 * margin) / side

    def at(x: float, y: float) -> tuple[int, int]:
        return int(margin + x * scale), int(height - margin - y * scale)

    surface.fill(GRASS)
    pygame.draw.rect(surface, BORDER, (margin, height - margin - side * scale, side * scale, side * scale), 3)
    for _, arena in arenas:
        for x, y in arena.food.tolist():
            pygame.draw.circle(surface, PELLET, at(x, y), max(3, int(0.12 * scale)))
    for entity, f in esper.get_component(Forager):
        colour = HUMAN if entity == human else AGENT
        centre = at(f.x, f.y)
        radius = max(4, int(BUMP_RADIUS * scale * 0.6))
        pygame.draw.circle(surface, colour, centre, radius)
        pygame.draw.circle(surface, OUTLINE, centre, radius, 2)
        pygame.draw.circle(surface, EYE, centre, 2)
    font = pygame.font.Font(None, 28)
    team = sum(esper.component_for_entity(e, EpisodeInfo).extras.get("food", 0.0)
               for e, _ in esper.get_component(Forager) if e != human and esper.has_component(e, EpisodeInfo))
    score = [(f"team food: {team:.0f}", AGENT)]
    if human is not None and esper.has_component(human, EpisodeInfo):
        score.append((f"your food: {esper.component_for_entity(human, EpisodeInfo).extras.get('food', 0):.0f}", HUMAN))
    y = 10
    for line, colour in score:
        text = font.render(line, True, colour)
        surface.blit(text, (width - text.get_width() - 12, y))
        y += text.get_height() + 4


def foragers_frame(entity: int, size: tuple[int, int] = (640, 640)):
    """An RGB frame (H, W, 3) of the current world's arena, drawn off-screen."""
    import numpy as np

    surface = pygame.Surface(size)
    pygame.font.init()
    draw_world(surface, entity)
    return np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2)).copy()
