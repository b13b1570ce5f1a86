"""Catch: fruit falls, a paddle catches it. A small esper + pygame game, made learnable with ecs-rl.

    python demos/catch.py                        # play it yourself (left / right arrows)
    ecs-rl train demos/catch.py:make_game        # an agent learns it; then ecs-rl eval / watch the run

Part 1 is the game as esper's documentation writes one: components, processors, a main loop.
Part 2 is everything ecs-rl needs (the README's tutorial, "Add learning to your esper game").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import esper
import numpy as np

WIDTH, HEIGHT = 10, 10  # the lane, in cells
FRUITS = 10  # fruits per round
CELL = 32  # pixels per cell


# -- Part 1: the game ------------------------------------------------------------------------------

@dataclass
class Paddle:
    x: int = WIDTH // 2
    move: int = 0  # -1 left, 0 stay, +1 right: set by the keyboard
    caught: int = 0
    missed: int = 0


@dataclass
class Fruit:
    paddle: int  # the paddle whose lane this fruit falls in
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    x: int = 0
    y: int = HEIGHT


def drop(fruit: Fruit) -> None:
    fruit.x, fruit.y = int(fruit.rng.integers(WIDTH)), HEIGHT


class MoveProcessor(esper.Processor):
    def process(self, *args):
        for _, paddle in esper.get_component(Paddle):
            paddle.x = min(WIDTH - 1, max(0, paddle.x + paddle.move))


class FallProcessor(esper.Processor):
    def process(self, *args):
        for _, fruit in esper.get_component(Fruit):
            fruit.y -= 1
            if fruit.y > 0:
                continue
            paddle = esper.component_for_entity(fruit.paddle, Paddle)
            if abs(fruit.x - paddle.x) <= 1:  # the paddle is three cells wide
                paddle.caught += 1
            else:
                paddle.missed += 1
            drop(fruit)


def draw(surface, human=None):
    """Every lane side by side (up to four), scaled to the surface."""
    import pygame

    surface.fill((245, 247, 250))
    lanes = esper.get_component(Fruit)[:4]
    cell = min(surface.get_width() // (max(1, len(lanes)) * (WIDTH + 1)), surface.get_height() // (HEIGHT + 1))
    top = surface.get_height() - (HEIGHT + 1) * cell
    for k, (_, fruit) in enumerate(lanes):
        left = k * (WIDTH + 1) * cell + cell // 2
        paddle = esper.component_for_entity(fruit.paddle, Paddle)
        pygame.draw.rect(surface, (225, 229, 236), (left, top, WIDTH * cell, (HEIGHT + 1) * cell))
        fruit_at = (left + fruit.x * cell + cell // 2, top + (HEIGHT - fruit.y) * cell + cell // 2)
        pygame.draw.circle(surface, (200, 60, 60), fruit_at, cell // 2 - 2)
        pygame.draw.rect(surface, (40, 44, 52), (left + (paddle.x - 1) * cell, top + HEIGHT * cell, 3 * cell, cell // 2))


class RenderProcessor(esper.Processor):
    def __init__(self, window):
        self.window = window

    def process(self, *args):
        import pygame

        draw(self.window)
        pygame.display.flip()


def new_lane(seed=None) -> tuple[int, int]:
    paddle = esper.create_entity(Paddle())
    fruit = Fruit(paddle, np.random.default_rng(seed))
    drop(fruit)
    return paddle, esper.create_entity(fruit)


def play(frames: int | None = None) -> None:
    """The game with a person at the keys (closes after ``frames`` frames, if given)."""
    import pygame

    pygame.init()
    window = pygame.display.set_mode(((WIDTH + 1) * CELL, (HEIGHT + 1) * CELL))
    pygame.display.set_caption("Catch")
    clock = pygame.time.Clock()
    paddle, _ = new_lane()
    esper.add_processor(MoveProcessor())
    esper.add_processor(FallProcessor())
    esper.add_processor(RenderProcessor(window))
    running = True
    while running and frames != 0:
        frames = None if frames is None else frames - 1
        for event in pygame.event.get():
            running = running and event.type != pygame.QUIT
        keys = pygame.key.get_pressed()
        esper.component_for_entity(paddle, Paddle).move = keys[pygame.K_RIGHT] - keys[pygame.K_LEFT]
        esper.process()
        clock.tick(8)
    pygame.quit()


# -- Part 2: make it learnable ---------------------------------------------------------------------

import gymnasium as gym  # noqa: E402  (kept here so part 1 reads as the plain game it was)

from ecs_rl import Game  # noqa: E402
from ecs_rl.ecs import Action, Done, Observation, Reward, agent_components  # noqa: E402

# 1. What the agent sees and does: where the fruit is relative to the paddle; left, stay or right.
observation_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
action_space = gym.spaces.Discrete(3)


def observe(paddle: Paddle, fruit: Fruit) -> np.ndarray:
    return np.array([(fruit.x - paddle.x) / WIDTH, fruit.y / HEIGHT, paddle.x / WIDTH], dtype=np.float32)


@dataclass
class Lane:
    fruit: int
    score: int = 0  # caught - missed at the last tick


# 2. The agent's action drives the paddle, as the keyboard did (after the plugin decides, at priority 100).
class ActionProcessor(esper.Processor):
    def process(self, *args):
        for _, (paddle, action) in esper.get_components(Paddle, Action):
            paddle.move = int(action.value) - 1


# 3. After the game moved: reward (+1 caught, -1 missed), the new observation, and the round's end.
class LearningProcessor(esper.Processor):
    def process(self, *args):
        for _, (paddle, lane, obs, reward, done) in esper.get_components(Paddle, Lane, Observation, Reward, Done):
            score = paddle.caught - paddle.missed
            reward.value += score - lane.score
            lane.score = score
            obs.value = observe(paddle, esper.component_for_entity(lane.fruit, Fruit))
            done.terminated = paddle.caught + paddle.missed >= FRUITS


# 4. Build n agents (lane i seeded seed + i), and the reset hook that starts a new round on one of them.
def build(n: int, seed: int | None = None) -> list[int]:
    if esper.get_processor(MoveProcessor) is None:
        esper.add_processor(ActionProcessor(), priority=2)
        esper.add_processor(MoveProcessor(), priority=1)
        esper.add_processor(FallProcessor(), priority=0)
        esper.add_processor(LearningProcessor(), priority=-1)
    paddles = []
    for i in range(n):
        paddle, fruit = new_lane(None if seed is None else seed + i)
        for component in (Lane(fruit), *agent_components("paddle", np.zeros(3, dtype=np.float32))):
            esper.add_component(paddle, component)
        reset(paddle)
        paddles.append(paddle)
    return paddles


def reset(entity: int, seed: int | None = None) -> None:
    paddle, lane = esper.component_for_entity(entity, Paddle), esper.component_for_entity(entity, Lane)
    paddle.x, paddle.caught, paddle.missed, lane.score = WIDTH // 2, 0, 0, 0
    fruit = esper.component_for_entity(lane.fruit, Fruit)
    if seed is not None:
        fruit.rng = np.random.default_rng(seed)
    drop(fruit)
    esper.component_for_entity(entity, Observation).value = observe(paddle, fruit)


# 5. The game spec the ecs-rl command (and ecs_rl.evaluate) run.
def quick_dqn(seed: int, total_steps: int):
    from ecs_rl.algorithms import DqnConfig

    return DqnConfig(learning_rate=1e-3, batch_size=64, buffer_size=20_000, learning_starts=500, gamma=0.9,
                     train_freq=4, gradient_steps=2, target_update_interval=250, epsilon_end=0.02,
                     epsilon_decay_steps=max(1, total_steps // 3), seed=seed)


def make_game() -> Game:
    return Game(name="catch", title="Catch", policies={"paddle": (observation_space, action_space)},
                build=build, reset=reset, draw=draw, window=(4 * (WIDTH + 1) * 16, (HEIGHT + 1) * 16 + 56), sim_hz=8,
                keys={"left": 0, "right": 2}, idle=lambda tick: 1, presets={"dqn": quick_dqn},
                envs=4, default_steps=20_000, eval_freq=2_000, eval_episodes=10, solved_reward=FRUITS - 0.5)


if __name__ == "__main__":
    play()
