"""Greedy torch policies with weights drawn from a seed, for the export and inference tests.

Freshly built agents have small last layers (PPO's actor: gain 0.01), so their outputs nearly tie; the
weights are redrawn from N(0, 0.5) so that a wrong sign, layer order or activation changes the actions."""

import gymnasium as gym
import numpy as np
import torch

from ecs_rl.algorithms import DqnAgent, DqnConfig, GreedyPolicy, PpoAgent, PpoConfig

OBS6 = gym.spaces.Box(-np.inf, np.inf, (6,), np.float32)
BOX3 = gym.spaces.Box(np.array([-1.0, -2.0, 0.0], np.float32), np.array([1.0, 2.0, np.inf], np.float32))
KINDS = ("dqn", "ppo-discrete", "ppo-box")


def make_policy(kind: str, seed: int = 0, obs_space: gym.Space = OBS6, actions: gym.Space | None = None) -> GreedyPolicy:
    if kind == "dqn":
        agent = DqnAgent(obs_space, actions or gym.spaces.Discrete(5, start=1), DqnConfig(hidden=(32, 16), seed=seed))
    elif kind == "ppo-discrete":
        agent = PpoAgent(obs_space, actions or gym.spaces.Discrete(4), PpoConfig(hidden=(24, 24), seed=seed))
    else:
        agent = PpoAgent(obs_space, actions or BOX3, PpoConfig(hidden=(24, 24), seed=seed))
    policy = agent.to_policy()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in policy.network.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
    return policy


def observations(n: int, dim: int = 6, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, dim)) * 2.0).astype(np.float32)


def random_masks(n: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    masks = rng.random((n, k)) < 0.4
    masks[np.arange(n), rng.integers(k, size=n)] = True  # at least one legal action per row
    return masks
