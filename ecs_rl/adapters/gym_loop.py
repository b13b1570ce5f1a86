"""Drive a TrainingSession from a plain loop over Gymnasium environments, and evaluate greedily.

N environments are N agents (agent id = index): one ``act_batch`` per step for all of them,
one ``observe`` per transition, ``on_episode`` as each episode ends, the env reset by hand so the
transition keeps the true final observation.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import gymnasium as gym
import numpy as np

from ..core.session import TrainingSession
from ..core.types import ActMode, EpisodeRecord, EpisodeStatus, Experience
from ..ecs.evaluation import EvalResult
from ..ecs.plugin import run_episodes
from .gym_entities import gym_factory, gym_reset


def evaluate(policy, make_env: Callable[[], gym.Env], n_episodes: int = 20, seed: int = 10_000,
             max_ticks: int = 100_000) -> list[EpisodeRecord]:
    """``n_episodes`` greedy episodes, env i reset with ``seed + i`` (the plugin's episode runner, with
    the envs as entities: one batched forward pass per step).

    Args:
        policy: a greedy policy (``agent.to_policy()``, ``GreedyPolicy.load(...)``) or anything with ``act_batch``.
        make_env: makes one Gymnasium env.
        n_episodes: the number of episodes (one env each).
        seed: env i is reset with ``seed + i``.
        max_ticks: episodes still running after this many steps are recorded as truncated.

    Returns:
        One ``EpisodeRecord`` per episode.
    """
    return run_episodes(gym_factory(make_env), {"gym": policy}, n_episodes, seed=seed, reset=gym_reset,
                        max_ticks=max_ticks)["gym"].records


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

    Args:
        session: the session to train (its budget: ``with_max_steps``).
        envs: N Gymnasium envs, one agent each (agent id = index).
        seed: env i's first reset is seeded ``seed + i``.
        eval_env: makes an evaluation env (needed with ``eval_freq``).
        eval_freq: steps between greedy evaluations (0: none).
        n_eval_episodes: episodes per evaluation.
        stop_reward: stop once an evaluation's mean reaches it.
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
            result = EvalResult("gym", records, session.total_steps, seconds=time.perf_counter() - started)
            for record in result.records:
                session.on_eval_episode(record)
            session.maybe_save_best(result.mean_reward)
            evaluations.append(result)
            if stop_reward is not None and result.mean_reward >= stop_reward:
                break
    return evaluations
