"""Foragers with 256 agents: ticks per second (random, DQN, PPO) and greedy return, this tree vs an earlier commit.

    python benchmarks/foragers_swarm.py                 # against 2189d89 (before the 256-agent work), ~10 min
    python benchmarks/foragers_swarm.py --quick         # shorter runs, one repeat
    python benchmarks/foragers_swarm.py --before REV    # any other commit
    python benchmarks/foragers_swarm.py --write         # and write benchmarks/results/foragers-swarm.json

The arena is 40 x 40 (``foragers.swarm_size(256)``): 256 foragers and 256 pellets at the density of the
16-agent demo game. In the 10 x 10 arena of the demo, 256 foragers bump on most ticks and a random walk
out-eats any policy that heads for food (a random policy scores 123 per agent, heading for the nearest
pellet 114, standing still -6), so a learned policy cannot be told from a broken one there. The earlier
tree has no ``size`` parameter; its module constant ``ARENA``, which its functions read when called, is
set instead (the same game: observations scaled by the side in both).

Both trees run in one invocation, each measurement in its own subprocess (``PYTHONPATH`` pointing at that
tree; the earlier commit is checked out with ``git worktree add`` in a temporary directory), alternating
before / after so both see the same machine load; the ratio after / before is the median over repeats.

ticks/s   the 256-agent arena through the plugin, measured over ticks 100-300 (a reset of all 256 agents
          at tick 200 included; learning under way): a random policy, DQN and PPO, each with the Foragers
          preset of its tree for 256 agents (``presets.foragers_swarm_dqn`` / ``foragers_swarm_ppo`` where
          it exists, else ``foragers_dqn`` / ``foragers_ppo``).
learning  DQN trained for the same number of agent-steps in each tree (seeds 0-4; one with --quick), then
          the mean greedy return per agent over one 200-tick episode of a held-out 256-agent arena per
          seed (256 episodes), beside a random policy's return in the same arenas: speed bought by
          learning less per step would show here, and so would a policy no better than chance.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import add_write_option, check_folder, load_average, meta, write

ROOT = Path(__file__).resolve().parents[1]
N_AGENTS = 256
SIZE = 10.0 * (N_AGENTS / 16) ** 0.5  # foragers.swarm_size(N_AGENTS), spelled out for the earlier tree


def _build(n: int, seed: int, policy: str = "foragers") -> list[int]:
    """The swarm arena in whichever tree is imported (an earlier one has no ``size``: set its constant)."""
    import inspect

    from ecs_rl.worlds import foragers

    if "size" in inspect.signature(foragers.build).parameters:
        return foragers.build(n, seed, policy, size=SIZE)
    foragers.ARENA = SIZE
    return foragers.build(n, seed, policy)


# -- child: one measurement in whichever ecs_rl PYTHONPATH points at ---------------------------------

def _preset(algo: str):
    from ecs_rl.algorithms import presets

    return getattr(presets, f"foragers_swarm_{algo}", None) or getattr(presets, f"foragers_{algo}")


def _policy(kind: str, total_steps: int, seed: int):
    from ecs_rl import RandomAgent, TrainingSession
    from ecs_rl.algorithms import DqnAgent, PpoAgent
    from ecs_rl.worlds import foragers

    if kind == "random":
        return RandomAgent(foragers.action_space, seed=seed)
    agent = (DqnAgent if kind == "dqn" else PpoAgent)(foragers.observation_space, foragers.action_space,
                                                      _preset(kind)(seed, total_steps=total_steps))
    return TrainingSession(agent)


def child_speed(kind: str, warmup: int, ticks: int) -> dict:
    import esper
    from ecs_rl.ecs import install, step_world
    from ecs_rl.worlds import foragers

    esper.switch_world("swarm")
    policy = _policy(kind, 10**7, 0)
    _build(N_AGENTS, seed=0)
    plugin = install({"foragers": policy}, reset=foragers.reset)
    step_world(warmup, plugin=plugin)
    started, cpu = time.perf_counter(), time.process_time()
    step_world(ticks, plugin=plugin)
    # per CPU-second too: on a shared machine it shows what an idle core would give
    return {"ticks_per_sec": ticks / (time.perf_counter() - started),
            "ticks_per_cpu_sec": ticks / (time.process_time() - cpu)}


def child_learn(kind: str, agent_steps: int, seed: int) -> dict:
    import esper
    from ecs_rl.ecs import install, run_episodes, step_world
    from ecs_rl.worlds import foragers

    esper.switch_world("swarm")
    policy = _policy(kind, agent_steps, seed)
    if kind != "random":
        policy.with_max_steps(agent_steps)
        _build(N_AGENTS, seed=seed)
        started = time.perf_counter()
        ticks = step_world(plugin=install({"foragers": policy}, reset=foragers.reset))
        seconds = time.perf_counter() - started
    else:
        ticks, seconds = 0, 0.0
    result = run_episodes(_build, {"foragers": policy}, N_AGENTS, seed=10_000 + N_AGENTS * seed,
                          reset=foragers.reset)["foragers"]
    return {"greedy": result.mean_reward, "ticks": ticks, "seconds": seconds}


# -- parent ------------------------------------------------------------------------------------------

def _speed_table(speed: dict, repeats: int) -> list[str]:
    """The speed figures as one table: medians over the repeats, the load average when each run started."""
    out = ["", f"  | {N_AGENTS} Foragers | before ticks/s | after ticks/s | after / before | before per CPU-s | "
               "after per CPU-s | load (1-min) |", "  |---|---|---|---|---|---|---|"]
    for kind in ("random", "dqn", "ppo"):
        r = speed.get(kind)
        if r is None:
            continue
        med = {k: {side: statistics.median(v) for side, v in r[k].items()} for k in ("ticks_per_sec", "ticks_per_cpu_sec")}
        ratio = statistics.median(a / b for a, b in zip(r["ticks_per_sec"]["after"], r["ticks_per_sec"]["before"]))
        every = r["load"]["before"] + r["load"]["after"]
        out.append(f"  | {kind} | {med['ticks_per_sec']['before']:.1f} | {med['ticks_per_sec']['after']:.1f} | "
                   f"{ratio:.2f}x | {med['ticks_per_cpu_sec']['before']:.1f} | {med['ticks_per_cpu_sec']['after']:.1f} | "
                   f"{min(every):.1f}-{max(every):.1f} |")
    out.append(f"  (median of {repeats} alternating run(s) each; goal: 256 agents learning at >= 60 ticks/s. On a busy "
               "machine ticks/s is a share of a core; per CPU-second is what one free core would give.)")
    return out


def run_child(tree: Path, *args: object) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "SDL_VIDEODRIVER": "dummy"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *map(str, args)],
                          env=env, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"benchmark child {args} in {tree} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def before_tree(rev: str, into: str) -> Path:
    path = Path(into) / "before"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), rev], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="2189d89", help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["speed", "learning"])
    parser.add_argument("--seeds", type=int, default=5, help="learning: seeds 0..N-1 (default %(default)s; 1 with --quick)")
    parser.add_argument("--repeats", type=int, default=2, help="speed: rounds of alternating runs (default %(default)s; "
                                                               "1 with --quick)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load, found = load_average(), {}
    from ecs_rl.algorithms import configure_torch

    configure_torch()  # one torch thread, flush-denormal: what `ecs-rl train` runs with
    if args.child:
        what, kind, *rest = args.child
        fn = child_speed if what == "speed" else child_learn
        print(json.dumps(fn(kind, *map(int, rest))))
        return
    q = args.quick
    repeats = 1 if q else args.repeats
    with tempfile.TemporaryDirectory(prefix="ecs-rl-bench-") as tmp:
        old = before_tree(args.before, tmp)
        trees = {"before": old, "after": ROOT}
        try:
            lines = [f"Foragers, {N_AGENTS} agents, through the plugin: {args.before} (before) vs this tree (after)"]
            if args.only in (None, "speed"):
                for kind in ("random", "dqn", "ppo"):
                    runs = {"before": [], "after": []}
                    cpu = {"before": [], "after": []}
                    loads = {"before": [], "after": []}
                    for _ in range(repeats):
                        for side, tree in trees.items():
                            loads[side].append(round(load_average(), 2))
                            r = run_child(tree, "speed", kind, 100, 200)
                            runs[side].append(r["ticks_per_sec"])
                            cpu[side].append(r["ticks_per_cpu_sec"])
                    found.setdefault("speed", {"agents": N_AGENTS, "warmup": 100, "ticks": 200})[kind] = {
                        "ticks_per_sec": runs, "ticks_per_cpu_sec": cpu, "load": loads}
                    ratio = statistics.median(a / b for a, b in zip(runs["after"], runs["before"]))
                    lines.append(f"  {kind:<7} ticks/s: before {statistics.median(runs['before']):6.1f}, after "
                                 f"{statistics.median(runs['after']):6.1f} -> after / before = {ratio:.1f}x   (per "
                                 f"CPU-second: before {statistics.median(cpu['before']):.1f}, after "
                                 f"{statistics.median(cpu['after']):.1f})")
                    print(lines[-1], file=sys.stderr, flush=True)
                lines += _speed_table(found["speed"], repeats)
            if args.only in (None, "learning"):
                steps = N_AGENTS * (400 if q else 800)
                seeds = [0] if q else list(range(args.seeds))
                lines.append(f"  DQN greedy return per agent after {steps:,} agent-steps (held-out {N_AGENTS}-agent "
                             "arena per seed, 256 episodes of 200 ticks each), seeds " + ", ".join(map(str, seeds)) +
                             ":")
                greedy = {"before": [], "after": [], "random": []}
                seconds = {"before": [], "after": []}
                for seed in seeds:
                    greedy["random"].append(run_child(ROOT, "learn", "random", steps, seed)["greedy"])
                    for side, tree in trees.items():
                        r = run_child(tree, "learn", "dqn", steps, seed)
                        greedy[side].append(r["greedy"])
                        seconds[side].append(r["seconds"])
                        print(f"    seed {seed} {side:<6} {r['greedy']:6.1f}  (trained in {r['seconds']:.0f} s, "
                              f"{r['ticks'] / r['seconds']:.1f} ticks/s)", file=sys.stderr, flush=True)
                found["learning"] = {"agent_steps": steps, "seeds": seeds, "greedy": greedy, "train_seconds": seconds}
                for side in ("after", "before", "random"):
                    lines.append(f"    {side:<6} mean {statistics.mean(greedy[side]):6.1f}   (per seed: "
                                 + ", ".join(f"{g:.1f}" for g in greedy[side]) + ")")
                lines.append(f"    after / before {statistics.mean(greedy['after']) / statistics.mean(greedy['before']):.2f}"
                             f", after / random {statistics.mean(greedy['after']) / statistics.mean(greedy['random']):.1f}")
                if len(seeds) > 1:
                    lines.append("    spread (standard deviation over seeds): " + ", ".join(
                        f"{side} {statistics.stdev(greedy[side]):.1f}" for side in ("after", "before", "random")))
            print("\n".join(lines))
            write("foragers-swarm", {"meta": meta(load, q), "before": args.before, **found}, args.write)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)


if __name__ == "__main__":
    main()
