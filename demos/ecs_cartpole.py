"""Train DQN on CartPole where the esper frame loop drives training.

    python demos/ecs_cartpole.py                 # until a greedy evaluation solves it (mean >= 475)
    python demos/ecs_cartpole.py --envs 4        # four cart-poles as four entities sharing one policy

The world holds N cart-pole entities and the physics processor; one ``install`` call adds the
plugin's decide / record / episode / reset processors; ``run`` calls ``esper.process`` until done.
Every --eval-freq steps the plugin runs 20 greedy episodes in a separate world and saves ``best``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

import esper

from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, configure_torch, presets
from ecs_rl.ecs import Evaluation, install, step_world
from ecs_rl.worlds import cartpole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000, help="step budget (default 100000)")
    parser.add_argument("--envs", type=int, default=1, help="cart-pole entities in the world (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-freq", type=int, default=5_000)
    parser.add_argument("--stop-reward", type=float, default=475.0)
    parser.add_argument("--root", default="runs")
    args = parser.parse_args()

    configure_torch()  # one torch thread, flush-denormal: the settings small networks train fastest with
    config = presets.cartpole_dqn(args.seed)
    agent = DqnAgent(cartpole.observation_space, cartpole.action_space, config)
    run_dir = TrainingRun.create("cartpole-ecs", "dqn", root=args.root)
    run_dir.write_config({"world": "ecs_rl.worlds.cartpole", "envs": args.envs, "seed": args.seed,
                          "agent": asdict(config)})
    session = TrainingSession(agent).with_run(run_dir).with_max_steps(args.steps)

    esper.switch_world("cartpole-train")
    cartpole.build(args.envs, seed=args.seed)
    plugin = install({"cartpole": session}, reset=cartpole.reset,
                     evaluation=Evaluation(cartpole.factory(), every=args.eval_freq, episodes=20))
    solved = lambda: bool(plugin.eval_history) and plugin.eval_history[-1].mean_reward >= args.stop_reward  # noqa: E731
    started = time.perf_counter()
    with session:
        step_world(solved, plugin=plugin)
    wall = time.perf_counter() - started

    print(session.eval_report(session.total_episodes))
    print("\ngreedy evaluations (step: mean of 20 episodes): "
          + ", ".join(f"{r.step:,}: {r.mean_reward:.1f}" for r in plugin.eval_history))
    if solved():
        print(f"solved at step {plugin.eval_history[-1].step:,} in {wall:.1f}s wall time "
              f"(best checkpoint: {run_dir.best_path})")
    else:
        print(f"not solved within {session.total_steps:,} steps ({wall:.1f}s); best eval {session.best_eval_reward:.1f}")


if __name__ == "__main__":
    main()
