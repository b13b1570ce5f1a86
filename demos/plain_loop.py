"""Train an agent on Gymnasium's CartPole-v1 from a plain Python loop through a TrainingSession.

    python demos/plain_loop.py                      # DQN until solved (greedy mean >= 475), at most 100k steps
    python demos/plain_loop.py --algo ppo --envs 8  # PPO over 8 environments
    python demos/plain_loop.py --algo random        # the baseline

Every --eval-freq steps, 20 greedy episodes are run; their mean is logged and saves `best`. Writes a
run directory under --root and prints the training report.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

from ecs_rl import RandomAgent, TrainingRun, TrainingSession
from ecs_rl.adapters.gym_loop import train


def make_agent(algo: str, env: gym.Env, seed: int, steps: int):
    if algo == "random":
        return RandomAgent(env.action_space, seed=seed), {}
    from dataclasses import asdict

    from ecs_rl.algorithms import DqnAgent, PpoAgent, configure_torch, presets

    configure_torch()  # one torch thread, flush-denormal: the settings small networks train fastest with
    if algo == "dqn":
        config = presets.cartpole_dqn(seed)
        return DqnAgent(env.observation_space, env.action_space, config), asdict(config)
    config = presets.cartpole_ppo(seed, total_steps=steps)
    return PpoAgent(env.observation_space, env.action_space, config), asdict(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", choices=["dqn", "ppo", "random"], default="dqn")
    parser.add_argument("--steps", type=int, default=100_000, help="step budget (default 100000)")
    parser.add_argument("--envs", type=int, default=None, help="parallel envs (default: 1 for dqn, 8 for ppo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-freq", type=int, default=5_000)
    parser.add_argument("--stop-reward", type=float, default=475.0, help="stop once an evaluation reaches this mean")
    parser.add_argument("--root", default="runs")
    parser.add_argument("--checkpoint-freq", type=int, default=10_000)
    args = parser.parse_args()
    n_envs = args.envs or (8 if args.algo == "ppo" else 1)
    envs = [gym.make("CartPole-v1") for _ in range(n_envs)]
    agent, config = make_agent(args.algo, envs[0], args.seed, args.steps)
    run = TrainingRun.create("cartpole-gym", args.algo, root=args.root)
    run.write_config({"env": "CartPole-v1", "algo": args.algo, "envs": n_envs, "seed": args.seed, "agent": config})
    session = (TrainingSession(agent).with_run(run).with_max_steps(args.steps)
               .with_checkpoint_freq(args.checkpoint_freq))
    started = time.perf_counter()
    with session:
        evals = train(session, envs, seed=args.seed, eval_env=lambda: gym.make("CartPole-v1"),
                      eval_freq=args.eval_freq, stop_reward=args.stop_reward)
    wall = time.perf_counter() - started
    print(session.eval_report(session.total_episodes))
    print("\ngreedy evaluations (step: mean of 20 episodes): "
          + ", ".join(f"{e.step:,}: {e.mean_reward:.1f}" for e in evals))
    solved = next((e for e in evals if e.mean_reward >= args.stop_reward), None)
    if solved:
        print(f"solved at step {solved.step:,} in {wall:.1f}s wall time (best checkpoint: {run.best_path})")
    else:
        print(f"not solved within {session.total_steps:,} steps ({wall:.1f}s); best eval {session.best_eval_reward:.1f}")


if __name__ == "__main__":
    main()
