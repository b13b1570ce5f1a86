"""What DQN's replay buffer costs a checkpoint: file size and save time with and without it.

    python benchmarks/checkpoint_size.py            # ~10 s
    python benchmarks/checkpoint_size.py --write    # and write results/checkpoint-size.json

A DQN agent at ``presets.cartpole_dqn`` (CartPole's spaces) with a full replay buffer (``buffer_size``
transitions, 100 000: random CartPole-shaped rows, as many bytes as real ones) is saved the two ways a
``TrainingSession`` saves it: ``latest.pt``, the resume point, with the buffer (``include_replay=True``), and
``step_<N>.pt`` / ``best.pt`` without it. The two alternate for ``--rounds`` rounds; the figures are each
file's size and the median save time (the atomic write and its fsync included).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from ecs_rl.algorithms import DqnAgent, configure_torch, presets
from results_file import add_write_option, check_folder, load_average, meta, write


def full_agent() -> DqnAgent:
    """A cartpole_dqn agent whose replay buffer holds ``buffer_size`` transitions."""
    space = gym.spaces.Box(-np.inf, np.inf, (4,), dtype=np.float32)
    agent = DqnAgent(space, gym.spaces.Discrete(2), presets.cartpole_dqn(seed=0))
    n, rng = agent.config.buffer_size, np.random.default_rng(0)
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    agent.replay.add_many(obs, rng.integers(0, 2, n), np.ones(n, dtype=np.float32), rng.normal(size=(n, 4)),
                          rng.random(n) < 0.01, np.full(n, agent.config.gamma, dtype=np.float32))
    assert agent.replay.size == n
    return agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: need at least 1")
    load = load_average()
    configure_torch()
    agent = full_agent()
    seconds: dict[str, list[float]] = {"with replay": [], "without replay": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="ecs-rl-ckpt-") as tmp:
        for _ in range(args.rounds):
            for kind, include in (("with replay", True), ("without replay", False)):
                path = Path(tmp) / f"{kind.replace(' ', '-')}.pt"
                started = time.perf_counter()
                agent.save(path, include_replay=include)
                seconds[kind].append(time.perf_counter() - started)
                sizes[kind] = path.stat().st_size
    for kind in seconds:
        print(f"{kind:15} {sizes[kind] / 1e6:7.2f} MB  median save {statistics.median(seconds[kind]) * 1e3:6.1f} ms "
              f"({args.rounds} rounds)")
    write("checkpoint-size", {"meta": meta(load), "preset": "cartpole_dqn", "transitions": agent.replay.size,
                              "rounds": args.rounds, "bytes": sizes, "seconds": seconds}, args.write)


if __name__ == "__main__":
    main()
