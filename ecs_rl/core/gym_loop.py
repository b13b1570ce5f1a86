"""Drive a TrainingSession from a plain loop over Gymnasium environments, and evaluate greedily.

N environments are N agents (agent id = index): one ``act_batch`` per step for all of them,
one ``observe`` per transition, ``on_episode`` as each episode ends, the env reset by hand so the
transition keeps the true final observation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import gymnasium as gym
import numpy as np

from .session import TrainingSession
from .types import ActMode, EpisodeRecord, EpisodeStatus, Experience


@dataclass(slots=True)
class EvalResult:
    """Greedy evaluation episodes at one step count."""

    step: int
    records: list[EpisodeRecord] = field(default_factory=list)
    seconds: float = 0.0  # wall time the evaluation took (to keep it apart from training time)

    @property
    def mean_reward(self) -> float:
        return float(np.mean([r.total_reward for r in self.records]))


def evaluate(
    policy, make_env: Callable[[], gym.Env], n_episodes: int = 20, seed: int = 10_000
) -> list[EpisodeRecord]:
    """``n_episodes`` greedy episodes run side by side (one batched forward pass per step)."""
    envs = [make_env() for _ in range(n_episodes)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes, dtype=np.int64)
    records: list[EpisodeRecord | None] = [None] * n_episodes
    live = list(range(n_episodes))
    while live:
        actions = policy.act_batch(obs[live], ActMode.EXPLOIT, live)
        still = []
        for action, i in zip(actions, live):
            next_obs, reward, terminated, truncated, _ = envs[i].step(action)
            returns[i] += float(reward)
            lengths[i] += 1
            obs[i] = next_obs
            if terminated or truncated:
                records[i] = EpisodeRecord(returns[i], int(lengths[i]), EpisodeStatus.from_flags(terminated, truncated))
            else:
                still.append(i)
        live = still
    for env in envs:
        env.close()
    return [r for r in records if r is not None]


def train(
    session: TrainingSession,
    envs: Sequence[gym.Env],
    seed: int = 0,
    eval_env: Callable[[], gym.Env] | None = None,
    eval_freq: int = 0,
    n_eval_episodes: int = 20,
    stop_reward: float | None = None,
) -> list[EvalResult]:
    """Train until ``session.is_done()`` (or an evaluation reaches ``stop_reward``).

    Every ``eval_freq`` steps (if set, with ``eval_env``), run a greedy evaluation, log it and
    save ``best``. Returns the evaluations made.
    """
    n = len(envs)
    ids = list(range(n))
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    evaluations: list[EvalResult] = []
    next_eval = eval_freq if eval_env is not None and eval_freq > 0 else None
    while not session.is_done():
        actions = session.act_batch(obs, ActMode.EXPLORE, ids)
        for i, env in enumerate(envs):
            next_obs, reward, terminated, truncated, _ = env.step(actions[i])
            status = EpisodeStatus.from_flags(terminated, truncated)
            session.observe(Experience(obs[i], actions[i], float(reward), next_obs, status, i))
            returns[i] += float(reward)
            lengths[i] += 1
            if status.is_done:
                session.on_episode(returns[i], int(lengths[i]), status, agent_id=i)
                next_obs, _ = env.reset()
                returns[i], lengths[i] = 0.0, 0
            obs[i] = next_obs
        if next_eval is not None and session.total_steps >= next_eval:
            next_eval += eval_freq
            started = time.perf_counter()
            records = evaluate(session.agent, eval_env, n_eval_episodes)
            result = EvalResult(session.total_steps, records, time.perf_counter() - started)
            for record in result.records:
                session.on_eval_episode(record)
            session.maybe_save_best(result.mean_reward)
            evaluations.append(result)
            if stop_reward is not None and result.mean_reward >= stop_reward:
                break
    return evaluations
