"""Action masks pay: maze walkers that cannot pick a wall learn faster than walkers punished for it.

    python demos/maze.py                         # PPO and DQN, seeds 0-2, masked against unmasked
    python demos/maze.py --algo ppo --seeds 5 --chunks 6

The same learner (same seed, same settings) trains on 8 walkers of ``ecs_rl.worlds.maze`` twice, once
with an ``ActionMask`` on each walker (walls illegal) and once without (a wall costs -0.1 and a step).
After every chunk of decisions both are scored greedily on the same 32 held-out episodes; the table shows
the mean of those evaluations (the area under the learning curve), the last one, and the wall bumps
the unmasked walkers made while training (masked ones make none). Its last line is what the shortest
paths score on those same episodes (a walker that always steps towards the goal): the best any learner can.
"""

from __future__ import annotations

import argparse
import collections
import time

import esper
import numpy as np

from ecs_rl import TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig, configure_torch
from ecs_rl.ecs import ScriptedController, install, run_episodes, step_world
from ecs_rl.worlds import maze


EVAL_EPISODES, EVAL_SEED = 32, 1_000_000  # the held-out episodes after chunk k: seeds EVAL_SEED + 32 k, ...


def distances() -> dict[tuple[int, int], int]:
    """Each open cell's number of moves to the goal (breadth-first from the goal)."""
    dist, queue = {maze.GOAL: 0}, collections.deque([maze.GOAL])
    while queue:
        r, c = queue.popleft()
        for dr, dc in maze.MOVES:
            cell = (r + dr, c + dc)
            if cell in maze.CELL and cell not in dist:
                dist[cell] = dist[(r, c)] + 1
                queue.append(cell)
    return dist


def shortest_path_score(chunks: int) -> float:
    """The mean of the greedy evaluations a walker that always steps towards the goal would get."""
    dist = distances()

    def step(obs: np.ndarray, entity: int) -> int:
        r, c = maze.OPEN[int(np.argmax(obs))]
        return min((dist.get((r + dr, c + dc), 10**9), a) for a, (dr, dc) in enumerate(maze.MOVES))[1]

    walker = ScriptedController(step, maze.action_space)
    return float(np.mean([run_episodes(maze.factory(), {"maze": walker}, EVAL_EPISODES,
                                       seed=EVAL_SEED + EVAL_EPISODES * k)["maze"].mean_reward
                          for k in range(chunks)]))


def make_agent(algo: str, seed: int, decisions: int):
    if algo == "dqn":
        return DqnAgent(maze.observation_space, maze.action_space, DqnConfig(
            seed=seed, learning_starts=200, target_update_interval=100, epsilon_decay_steps=decisions // 2))
    return PpoAgent(maze.observation_space, maze.action_space,
                    PpoConfig(seed=seed, n_steps=64, batch_size=128, learning_rate=1e-3))


def train(algo: str, seed: int, masked: bool, chunks: int, chunk: int, agents: int = 8) -> tuple[list[float], int]:
    """Greedy mean rewards after each chunk, and the wall bumps made while training."""
    agent = make_agent(algo, seed, chunks * chunk)
    previous, name = esper.current_world, f"maze-{algo}-{seed}-{masked}"
    esper.switch_world(name)
    try:
        maze.build(agents, seed, masked=masked)
        plugin = install({"maze": TrainingSession(agent)}, reset=maze.reset)
        bumps = [0]
        plugin.on_episode_end(lambda e: bumps.__setitem__(0, bumps[0] + int(e.extras.get("wall_bumps", 0))))
        scores = []
        for k in range(chunks):
            step_world(chunk // agents, plugin=plugin)
            result = run_episodes(maze.factory(masked=masked), {"maze": agent}, EVAL_EPISODES,
                                  seed=EVAL_SEED + EVAL_EPISODES * k)
            scores.append(result["maze"].mean_reward)
    finally:
        esper.switch_world(previous)
        esper.delete_world(name)
    return scores, bumps[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", choices=["ppo", "dqn", "both"], default="both")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--chunks", type=int, default=4, help="evaluations per run (default 4)")
    parser.add_argument("--chunk", type=int, default=0,
                        help="decisions between evaluations (default: 1500 for PPO, 750 for DQN)")
    args = parser.parse_args()
    configure_torch()
    print(f"{'algo':5} {'seed':>4}  {'masked: mean / last':>20}  {'unmasked: mean / last':>22}  {'bumps':>6}  seconds")
    for algo in (["ppo", "dqn"] if args.algo == "both" else [args.algo]):
        chunk = args.chunk or (1500 if algo == "ppo" else 750)
        for seed in range(args.seeds):
            started = time.perf_counter()
            masked, _ = train(algo, seed, True, args.chunks, chunk)
            plain, bumps = train(algo, seed, False, args.chunks, chunk)
            print(f"{algo:5} {seed:>4}  {np.mean(masked):>+11.3f} / {masked[-1]:+.3f}  {np.mean(plain):>+13.3f} / "
                  f"{plain[-1]:+.3f}  {bumps:>6}  {time.perf_counter() - started:.1f}", flush=True)
    print(f"shortest paths: {shortest_path_score(args.chunks):+.3f} (the mean of {args.chunks} evaluations)")


if __name__ == "__main__":
    main()
