"""Drawing a CartPole entity with pygame, on- or off-screen."""

from __future__ import annotations

import math

import esper
import numpy as np
import pygame

from ..worlds.cartpole import LENGTH, X_THRESHOLD, CartPole

WIDTH, HEIGHT = 600, 400
SKY, TRACK, CART, POLE, AXLE = (245, 247, 250), (60, 60, 70), (40, 44, 52), (202, 152, 101), (129, 132, 203)


def draw_cartpole(surface: pygame.Surface, cp: CartPole) -> None:
    """Track, cart and pole for one cart-pole state, scaled to the surface."""
    width, height = surface.get_size()
    scale = width / (X_THRESHOLD * 2)
    track_y = int(height * 0.7)
    surface.fill(SKY)
    pygame.draw.line(surface, TRACK, (0, track_y), (width, track_y), 2)
    cart_x = cp.x * scale + width / 2
    cart_w, cart_h = 50, 30
    cart = pygame.Rect(0, 0, cart_w, cart_h)
    cart.center = (int(cart_x), track_y - cart_h // 2)
    pygame.draw.rect(surface, CART, cart)
    axle = (cart_x, track_y - cart_h * 0.75)
    pole_len = scale * 2 * LENGTH
    tip = (axle[0] + pole_len * math.sin(cp.theta), axle[1] - pole_len * math.cos(cp.theta))
    pygame.draw.line(surface, POLE, axle, tip, 10)
    pygame.draw.circle(surface, AXLE, (int(axle[0]), int(axle[1])), 5)


def cartpole_frame(entity: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    """An RGB frame (H, W, 3) of ``entity`` in the current esper world, drawn off-screen."""
    surface = pygame.Surface(size)
    draw_cartpole(surface, esper.component_for_entity(entity, CartPole))
    return np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2)).copy()


def draw_world(surface: pygame.Surface, human: int | None = None) -> None:
    """The first cart-pole of the current world (the human's one, if a human plays)."""
    carts = esper.get_component(CartPole)
    if not carts:
        surface.fill(SKY)
        return
    chosen = next((cp for e, cp in carts if e == human), carts[0][1])
    draw_cartpole(surface, chosen)
