"""Tuned hyper-parameters for the reference tasks, shared by the demos, benchmarks and tests.

Adapted from the RL Baselines3 Zoo's settings for these tasks, with the reference design's 64x64
networks; measured in benchmarks/algorithms_vs_sb3.py.
"""

from __future__ import annotations

from .dqn import DqnConfig
from .ppo import PpoConfig


def cartpole_dqn(seed: int = 0, **overrides) -> DqnConfig:
    """DQN for CartPole-v1 (1 env): solves within 50 000 steps.

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        **overrides: ``DqnConfig`` fields to change.
    """
    return DqnConfig(**{**dict(
        learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1_000, gamma=0.99,
        target_update_interval=10, train_freq=256, gradient_steps=128, hidden=(64, 64),
        epsilon_start=1.0, epsilon_end=0.04, epsilon_decay_steps=8_000, max_grad_norm=10.0, seed=seed,
    ), **overrides})


def cartpole_ppo(seed: int = 0, total_steps: int = 100_000, **overrides) -> PpoConfig:
    """PPO for CartPole-v1 with 8 envs: learning rate and clip range decay linearly over ``total_steps``.

    Args:
        seed: the agent's random seed (network initialisation, sampling).
        total_steps: the training budget in steps, over which learning rate and clip range decay.
        **overrides: ``PpoConfig`` fields to change.
    """
    return PpoConfig(**{**dict(
        n_steps=32, batch_size=256, n_epochs=20, learning_rate=1e-3, clip_range=0.2, gamma=0.98, gae_lambda=0.8,
        ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, hidden=(64, 64), anneal_steps=total_steps,
        anneal_lr=True, anneal_clip=True, seed=seed,
    ), **overrides})


def pendulum_ppo(seed: int = 0, **overrides) -> PpoConfig:
    """PPO with Gaussian actions for Pendulum-v1 with 4 envs.

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        **overrides: ``PpoConfig`` fields to change.
    """
    return PpoConfig(**{**dict(
        n_steps=1024, batch_size=64, n_epochs=10, learning_rate=1e-3, clip_range=0.2, gamma=0.9, gae_lambda=0.95,
        ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, hidden=(64, 64), seed=seed,
    ), **overrides})


def foragers_dqn(seed: int = 0, total_steps: int = 100_000, **overrides) -> DqnConfig:
    """DQN for the foragers arena (16 agents feeding one replay buffer); epsilon decays over a third.

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        total_steps: the training budget in steps, which schedules scale to.
        **overrides: ``DqnConfig`` / ``PpoConfig`` fields to change.
    """
    return DqnConfig(**{**dict(
        learning_rate=1e-3, batch_size=128, buffer_size=100_000, learning_starts=2_000, gamma=0.95,
        target_update_interval=1_000, train_freq=16, gradient_steps=4, hidden=(64, 64),
        epsilon_start=1.0, epsilon_end=0.02, epsilon_decay_steps=max(1, total_steps // 3), seed=seed,
    ), **overrides})


def foragers_ppo(seed: int = 0, total_steps: int = 100_000, **overrides) -> PpoConfig:
    """PPO for the foragers arena (learns, but more slowly than DQN here).

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        total_steps: the training budget in steps, which schedules scale to.
        **overrides: ``DqnConfig`` / ``PpoConfig`` fields to change.
    """
    return PpoConfig(**{**dict(
        n_steps=128, batch_size=256, n_epochs=4, learning_rate=1e-3, gamma=0.95, ent_coef=0.01, hidden=(64, 64),
        seed=seed,
    ), **overrides})


def hunt_prey_dqn(seed: int = 0, total_steps: int = 100_000, **overrides) -> DqnConfig:
    """DQN for the prey of the hunt arena (all prey feed one replay buffer); epsilon decays over a third.

    With 24 agents and the predator preset, both teams beat a random team by a clear margin after 3 000 ticks
    on each of seeds 0-4 (tests/test_hunt.py).

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        total_steps: the training budget in steps, which schedules scale to.
        **overrides: ``DqnConfig`` / ``PpoConfig`` fields to change.
    """
    return DqnConfig(**{**dict(
        learning_rate=1e-3, batch_size=128, buffer_size=100_000, learning_starts=2_000, gamma=0.95,
        target_update_interval=1_000, train_freq=16, gradient_steps=4, hidden=(64, 64),
        epsilon_start=1.0, epsilon_end=0.02, epsilon_decay_steps=max(1, total_steps // 3), seed=seed,
    ), **overrides})


def hunt_predator_dqn(seed: int = 0, total_steps: int = 50_000, **overrides) -> DqnConfig:
    """DQN for the predators of the hunt arena (one decision per two ticks, so fewer steps than the prey).

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        total_steps: the training budget in steps, which schedules scale to.
        **overrides: ``DqnConfig`` / ``PpoConfig`` fields to change.
    """
    return DqnConfig(**{**dict(
        learning_rate=1e-3, batch_size=128, buffer_size=100_000, learning_starts=1_000, gamma=0.95,
        target_update_interval=500, train_freq=8, gradient_steps=4, hidden=(64, 64),
        epsilon_start=1.0, epsilon_end=0.02, epsilon_decay_steps=max(1, total_steps // 3), seed=seed,
    ), **overrides})


def foragers_swarm_dqn(seed: int = 0, total_steps: int = 1_000_000, **overrides) -> DqnConfig:
    """DQN for a swarm of foragers (256 agents, one replay buffer, ``foragers.build(..., size=swarm_size(n))``),
    chosen for ticks per second.

    ``foragers_dqn`` updates every 16 agent-steps: with 256 agents that is 64 minibatches of 128 per tick,
    most of a tick's time. Here one update round per tick (``train_freq`` = 256 agent-steps), 4 minibatches
    of 1 024: a replay ratio of 1/64 update per agent-step (16 sampled transitions per agent-step, half of
    ``foragers_dqn``'s 32) in 16x fewer, larger updates, cheap on a CPU where a minibatch of 1 024 costs
    about two of 128. Fewer, larger steps need a larger one each: learning rate 3e-3 (``foragers_dqn``'s
    1e-3 left the greedy return after 204 800 agent-steps at a third of ``foragers_dqn``'s). Measured by
    benchmarks/foragers_swarm.py against ``foragers_dqn`` at the same agent-steps (benchmarks/README.md).

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        total_steps: the training budget in steps, which schedules scale to.
        **overrides: ``DqnConfig`` / ``PpoConfig`` fields to change.
    """
    return foragers_dqn(seed, total_steps, **{**dict(train_freq=256, gradient_steps=4, batch_size=1024,
                                                     learning_rate=3e-3), **overrides})


def foragers_swarm_ppo(seed: int = 0, total_steps: int = 1_000_000, **overrides) -> PpoConfig:
    """PPO for a crowded foragers arena (256 agents), chosen for ticks per second.

    ``foragers_ppo`` collects 128 steps per agent (32 768 transitions with 256 agents) and then pauses for
    512 minibatches of 256. Here 32 steps per agent (8 192 transitions), 4 epochs of minibatches of 1 024:
    every transition is still used 4 times, in 32 updates per rollout (one per tick on average), and the
    pause between rollouts is 16x shorter.

    Args:
        seed: the agent's random seed (network initialisation, exploration, sampling).
        total_steps: the training budget in steps, which schedules scale to.
        **overrides: ``DqnConfig`` / ``PpoConfig`` fields to change.
    """
    return foragers_ppo(seed, total_steps, **{**dict(n_steps=32, batch_size=1024), **overrides})
