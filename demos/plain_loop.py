"""Drive a TrainingSession from a plain Python loop over a Gymnasium environment.

    python demos/plain_loop.py --steps 20000 --root runs

Writes a run directory (logs, checkpoints, metadata) and prints the training report.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

from ecs_rl import EpisodeRecord, EpisodeStatus, Experience, RandomAgent, TrainingRun, TrainingSession


def train(env_id: str, steps: int, seed: int, root: str, checkpoint_freq: int) -> TrainingSession:
    env = gym.make(env_id)
    agent = RandomAgent(env.action_space, seed=seed)
    run = TrainingRun.create(env_id.replace("/", "-"), "random", root=root)
    run.write_config({"env": env_id, "agent": "random", "steps": steps, "seed": seed})
    session = TrainingSession(agent).with_run(run).with_max_steps(steps).with_checkpoint_freq(checkpoint_freq)
    obs, _ = env.reset(seed=seed)
    episode_reward, episode_length = 0.0, 0
    with session:
        while not session.is_done():
            action = session.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            status = EpisodeStatus.from_flags(terminated, truncated)
            session.observe(Experience(obs, action, float(reward), next_obs, status))
            episode_reward += float(reward)
            episode_length += 1
            obs = next_obs
            if status.is_done:
                session.on_episode(episode_reward, episode_length, status)
                obs, _ = env.reset()
                episode_reward, episode_length = 0.0, 0
        # a greedy evaluation (for the random agent, just more random episodes) feeds best-model saving
        eval_env = gym.make(env_id)
        rewards = []
        for k in range(5):
            obs, _ = eval_env.reset(seed=10_000 + seed + k)
            total, length, done = 0.0, 0, False
            while not done:
                obs, reward, terminated, truncated, _ = eval_env.step(session.act(obs))
                total, length, done = total + float(reward), length + 1, terminated or truncated
            session.on_eval_episode(EpisodeRecord(total, length, EpisodeStatus.from_flags(terminated, truncated)))
            rewards.append(total)
        session.maybe_save_best(float(np.mean(rewards)))
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default="runs")
    parser.add_argument("--checkpoint-freq", type=int, default=5_000)
    args = parser.parse_args()
    session = train(args.env, args.steps, args.seed, args.root, args.checkpoint_freq)
    print(session.eval_report(session.total_episodes))


if __name__ == "__main__":
    main()
