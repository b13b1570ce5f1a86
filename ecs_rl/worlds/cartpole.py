"""CartPole-v1 as esper components and a processor, faithful to Gymnasium's.

Same constants, Euler integration, termination thresholds, reward (1 per step, the last included),
truncation at 500 steps, and initial states (uniform in +-0.05, drawn from ``default_rng(seed)`` the
way Gymnasium seeds its env), so a seeded entity retraces a seeded ``gym.make("CartPole-v1")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import esper
import gymnasium as gym
import numpy as np

from ..ecs.components import Action, Done, Observation, Reward, agent_components
from ..games import Game, preset_from

GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds between state updates
THETA_THRESHOLD = 12 * 2 * np.pi / 360
X_THRESHOLD = 2.4
MAX_EPISODE_STEPS = 500

# Gymnasium 1.4 bounds the velocities with inf, which its own env checker warns about; the largest
# float32 keeps the same meaning and passes the checker cleanly.
_HIGH = np.array([X_THRESHOLD * 2, np.finfo(np.float32).max, THETA_THRESHOLD * 2, np.finfo(np.float32).max],
                 dtype=np.float32)
observation_space = gym.spaces.Box(-_HIGH, _HIGH, dtype=np.float32)
action_space = gym.spaces.Discrete(2)


def physics_step(x: float, x_dot: float, theta: float, theta_dot: float, action: int) -> tuple[float, ...]:
    """One Euler step of the cart-pole dynamics (Barto, Sutton & Anderson), as Gymnasium computes it."""
    force = FORCE_MAG if action == 1 else -FORCE_MAG
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS))
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    return x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc


def is_terminal(x: float, theta: float) -> bool:
    return bool(x < -X_THRESHOLD or x > X_THRESHOLD or theta < -THETA_THRESHOLD or theta > THETA_THRESHOLD)


def initial_state(rng: np.random.Generator) -> tuple[float, ...]:
    return tuple(rng.uniform(low=-0.05, high=0.05, size=(4,)))


@dataclass(slots=True)
class CartPole:
    """One cart-pole's state, its step count and its own RNG for resets."""

    x: float = 0.0
    x_dot: float = 0.0
    theta: float = 0.0
    theta_dot: float = 0.0
    steps: int = 0
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    def observation(self) -> np.ndarray:
        return np.array((self.x, self.x_dot, self.theta, self.theta_dot), dtype=np.float32)


class CartPoleProcessor(esper.Processor):
    """Steps every cart-pole that has an action: physics, observation, reward, termination/truncation."""

    def process(self, *args, **kwargs) -> None:
        for _, (cp, action, obs, reward, done) in esper.get_components(CartPole, Action, Observation, Reward, Done):
            if action.value is None or done.terminated or done.truncated:
                continue
            cp.x, cp.x_dot, cp.theta, cp.theta_dot = physics_step(cp.x, cp.x_dot, cp.theta, cp.theta_dot, action.value)
            cp.steps += 1
            obs.value = cp.observation()
            reward.value += 1.0
            done.terminated = is_terminal(cp.x, cp.theta)
            done.truncated = cp.steps >= MAX_EPISODE_STEPS


def reset(entity: int, seed: int | None = None) -> None:
    """The reset hook: a fresh initial state (reseeding the entity's RNG if ``seed`` is given)."""
    cp = esper.component_for_entity(entity, CartPole)
    if seed is not None:
        cp.rng = np.random.default_rng(seed)
    cp.x, cp.x_dot, cp.theta, cp.theta_dot = initial_state(cp.rng)
    cp.steps = 0
    esper.component_for_entity(entity, Observation).value = cp.observation()


def build(n_envs: int = 1, seed: int | None = 0, policy: str = "cartpole") -> list[int]:
    """Create ``n_envs`` cart-pole agent entities (entity i seeded ``seed + i``) and the physics processor
    in the current esper world. Usable as an evaluation factory: ``lambda n, seed: build(n, seed)``."""
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs!r}")
    if esper.get_processor(CartPoleProcessor) is None:
        esper.add_processor(CartPoleProcessor(), priority=0)
    entities = []
    for i in range(n_envs):
        cp = CartPole(rng=np.random.default_rng(None if seed is None else seed + i))
        cp.x, cp.x_dot, cp.theta, cp.theta_dot = initial_state(cp.rng)
        entities.append(esper.create_entity(*agent_components(policy, cp.observation()), cp))
    return entities


def factory(policy: str = "cartpole"):
    """An evaluation / world factory ``(n_envs, seed) -> entities`` for agents of ``policy``."""
    return lambda n_envs, seed: build(n_envs, seed, policy)


def _alternate(tick: int) -> int:
    return tick % 2  # a person pressing nothing: alternate pushes, no net force


def make_game() -> Game:
    """CartPole as an ecs-rl game (``ecs-rl train cartpole``)."""
    return Game(
        name="cartpole", title="CartPole", policies={"cartpole": (observation_space, action_space)},
        build=build, reset=reset, draw="ecs_rl.render.cartpole:draw_world", window=(600, 400), sim_hz=50.0,
        keys={"left": 0, "right": 1}, idle=_alternate,
        presets={"dqn": preset_from("cartpole_dqn"), "ppo": preset_from("cartpole_ppo")},
        envs={"dqn": 1, "ppo": 8}, default_steps=100_000, eval_episodes=20, solved_reward=475.0,
    )
