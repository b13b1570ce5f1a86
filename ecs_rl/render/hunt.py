"""Drawing the hunt arena: pellets, prey (blue), predators (red, a ring that empties as they starve), hawks
(purple diamonds), the human's agent highlighted, and a scoreboard."""

from __future__ import annotations

import esper
import pygame

from ..worlds.hunt import STARVE_TICKS, Hawk, Hunt, Pellet, Predator, Prey

GROUND, BORDER, PELLET = (236, 238, 226), (100, 104, 90), (70, 165, 75)
PREY, PREDATOR, HAWK, HUMAN = (60, 110, 205), (205, 55, 50), (125, 70, 165), (235, 140, 30)
OUTLINE, HUNGER, TEXT, PANEL = (35, 35, 45), (250, 215, 90), (30, 30, 36), (255, 255, 255, 210)


def draw_world(surface: pygame.Surface, human: int | None = None) -> None:
    """Draw the current esper world's arena into ``surface`` (``human``: the entity a person steers; by
    default the world's own human agent, see ``hunt.build(..., human=...)``)."""
    hunts = esper.get_component(Hunt)
    if not hunts:
        return
    hunt = hunts[0][1]
    human = hunt.human_entity if human is None else human
    width, height = surface.get_size()
    margin = 20
    scale = (min(width, height) - 2 * margin) / hunt.side

    def at(x: float, y: float) -> tuple[int, int]:
        return int(margin + x * scale), int(height - margin - y * scale)

    surface.fill(GROUND)
    pygame.draw.rect(surface, BORDER, (margin, height - margin - hunt.side * scale, hunt.side * scale,
                                       hunt.side * scale), 3)
    for _, pellet in esper.get_component(Pellet):
        pygame.draw.circle(surface, PELLET, at(pellet.x, pellet.y), max(3, int(0.1 * scale)))
    radius = max(4, int(0.18 * scale))
    for entity, prey in esper.get_component(Prey):
        centre = at(prey.x, prey.y)
        pygame.draw.circle(surface, HUMAN if entity == human else PREY, centre, radius)
        pygame.draw.circle(surface, OUTLINE, centre, radius, 1)
    for entity, predator in esper.get_component(Predator):
        centre = at(predator.x, predator.y)
        r = radius + 2
        pygame.draw.circle(surface, HUMAN if entity == human else PREDATOR, centre, r)
        fed = max(0.0, 1.0 - predator.hunger / STARVE_TICKS)  # the yellow ring empties as hunger grows
        if fed > 0.02:
            box = pygame.Rect(centre[0] - r - 3, centre[1] - r - 3, 2 * r + 6, 2 * r + 6)
            pygame.draw.arc(surface, HUNGER, box, 0.0, 6.2832 * fed, 2)
    for _, hawk in esper.get_component(Hawk):
        x, y = at(hawk.x, hawk.y)
        r = radius + 3
        points = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
        pygame.draw.polygon(surface, HAWK, points)
        pygame.draw.polygon(surface, OUTLINE, points, 1)
    font = pygame.font.Font(None, 24)
    c = hunt.counts
    lines = [(f"pellets eaten: {c['pellets']}", PREY), (f"caught by predators: {c['caught_by_predators']}", PREDATOR),
             (f"caught by hawks: {c['caught_by_hawks']}", HAWK), (f"predators starved: {c['starved']}", TEXT)]
    texts = [font.render(line, True, colour) for line, colour in lines]
    panel = pygame.Surface((max(t.get_width() for t in texts) + 12, sum(t.get_height() + 2 for t in texts) + 8),
                           pygame.SRCALPHA)
    panel.fill(PANEL)
    surface.blit(panel, (width - panel.get_width() - 6, 6))
    y = 10
    for text in texts:
        surface.blit(text, (width - text.get_width() - 12, y))
        y += text.get_height() + 2
