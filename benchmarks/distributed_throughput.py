"""Foragers with 256 agents per world, DQN: the single-process plugin vs 1 and 2 Ray workers, side by side.

    python benchmarks/distributed_throughput.py             # throughput (2 repeats) and the learning curves
    python benchmarks/distributed_throughput.py --quick     # one repeat, shorter windows
    python benchmarks/distributed_throughput.py --only throughput
    python benchmarks/distributed_throughput.py --write     # and write results/distributed-throughput.json

Each measurement runs in its own subprocess, the three set-ups alternating so they see the same machine load
(printed beside each figure: the 1-minute load average before and after). Two modes:

env-bound   DQN acting epsilon-greedily and storing every transition, but no gradient update
            (``learning_starts`` beyond the run): the worlds are the work, as in a slow simulation.
learning    the ``foragers_swarm_dqn`` preset (4 minibatches of 1 024 every 256 agent-steps).

Throughput is agent-steps (transitions) the learner's session took per second, over a window after a
warm-up (Ray's start and the workers' world building are outside it): the single process runs one world of
256 agents; N workers run N worlds of 256 agents each (worker k seeded 256 k) feeding one learner.
"Where the time goes": the single process over its window; the distributed runs over the whole run
(warm-up included, of its wall time), the workers' figures summed over workers: their simulation (world:
the game's and the plugin's processors), acting (the acting copy's forward pass), packing chunks, and the
learner's waiting for the workers to start, then for chunks, feeding them (replay writes, updates,
logging) and broadcasting weights.

learning curve  Foragers, 16 agents per world, ``foragers_dqn`` preset at one step budget: greedy
            evaluations (16 episodes) of the single-process plugin vs 2 workers (16 agents each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_file import add_write_option, check_folder, meta, write

ROOT = Path(__file__).resolve().parents[1]
N_AGENTS = 256


def _load() -> float:
    return os.getloadavg()[0]


def _session(mode: str, steps: int | None = None, agents: int = N_AGENTS):
    from ecs_rl import TrainingSession
    from ecs_rl.algorithms import DqnAgent, presets
    from ecs_rl.worlds import foragers

    if agents == N_AGENTS:
        config = presets.foragers_swarm_dqn(0, total_steps=10**7)
        if mode == "env-bound":
            config.learning_starts = 10**12
    else:
        config = presets.foragers_dqn(0, total_steps=steps)
    session = TrainingSession(DqnAgent(foragers.observation_space, foragers.action_space, config))
    return session.with_max_steps(steps) if steps else session


# -- children: one measurement each ------------------------------------------------------------------

def child_single(mode: str, warm: int, window: int) -> dict:
    import esper
    from ecs_rl.ecs import install, step_world
    from ecs_rl.worlds import foragers

    session = _session(mode)
    spent = {"act": 0.0, "learn": 0.0}

    def timed(name: str, fn):
        def call(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t
        return call

    session.act_batch = timed("act", session.act_batch)  # the plugin calls these two on the session
    session.observe_batch = timed("learn", session.observe_batch)
    esper.switch_world("bench")
    foragers.build(N_AGENTS, seed=0)
    plugin = install({"foragers": session}, reset=foragers.reset)
    step_world(warm // N_AGENTS, plugin=plugin)
    spent.update(act=0.0, learn=0.0)
    steps, started = session.total_steps, time.perf_counter()
    step_world(window // N_AGENTS, plugin=plugin)
    seconds = time.perf_counter() - started
    return {"steps_per_sec": (session.total_steps - steps) / seconds, "seconds": {
        "world": seconds - spent["act"] - spent["learn"], "act": spent["act"], "learn": spent["learn"]}}


def child_workers(mode: str, workers: int, warm: int, window: int) -> dict:
    from ecs_rl.distributed import train

    session = _session(mode)
    marks: list[tuple[float, int]] = []

    def stop() -> bool:
        if not marks and session.total_steps >= warm:
            marks.append((time.perf_counter(), session.total_steps))
        if marks and session.total_steps >= marks[0][1] + window:
            marks.append((time.perf_counter(), session.total_steps))
            return True
        return False

    result = train("foragers", session, workers, envs=N_AGENTS, stop=stop)
    (t0, s0), (t1, s1) = marks
    return {"steps_per_sec": (s1 - s0) / (t1 - t0), "seconds": result.seconds, "nodes": len(set(result.nodes))}


def child_curve(kind: str, steps: int, every: int) -> dict:
    import esper
    from ecs_rl.ecs import Evaluation, install, step_world
    from ecs_rl.worlds import foragers

    agents = 16
    session = _session("learning", steps, agents)
    evaluation = Evaluation(foragers.factory(), every=every, episodes=16, max_ticks=250)
    started = time.perf_counter()
    if kind == "single":
        esper.switch_world("bench")
        foragers.build(agents, seed=0)
        plugin = install({"foragers": session}, reset=foragers.reset, evaluation=evaluation)
        step_world(plugin=plugin)
        history = plugin.eval_history
    else:
        from ecs_rl.distributed import train

        history = train("foragers", session, 2, envs=agents, evaluation=evaluation).plugin.eval_history
    return {"curve": [(e.step, e.mean_reward) for e in history], "seconds": time.perf_counter() - started}


def child_random(steps: int, every: int) -> dict:
    from ecs_rl.ecs import Evaluation
    from ecs_rl.scoring import evaluate
    from ecs_rl.worlds import foragers

    evaluation = Evaluation(foragers.factory(), every=every, episodes=16, max_ticks=250)
    game = foragers.make_game()
    return {"mean": statistics.mean(evaluate(game, "random", 16, seed=evaluation.seed_at(s)).mean_reward
                                    for s in range(every, steps + 1, every))}


# -- parent ------------------------------------------------------------------------------------------

def run_child(*args: object) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    before = _load()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *map(str, args)],
                          env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"benchmark child {args} failed:\n{proc.stderr.strip()[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load"] = (before, _load())
    return result


def _shares(seconds: dict) -> str:
    keys = [k for k in ("world", "act", "pack", "learn", "start", "wait", "feed", "broadcast") if k in seconds]
    text = ", ".join(f"{k} {seconds[k]:.1f}s" for k in keys)
    return text + (f" (of {seconds['wall']:.1f}s wall)" if "wall" in seconds else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["throughput", "curve"])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load, found = _load(), {}
    from ecs_rl.algorithms import configure_torch

    configure_torch()  # one torch thread, flush-denormal: what `ecs-rl train` runs with (workers too)
    if args.child:
        what, *rest = args.child
        fn = {"single": child_single, "workers": child_workers, "curve": child_curve, "random": child_random}[what]
        print(json.dumps(fn(*(int(x) if x.isdigit() else x for x in rest))))
        return
    q = args.quick
    repeats = 1 if q else 2
    warm, window = N_AGENTS * 40, N_AGENTS * (200 if q else 800)
    lines = [f"machine: {os.cpu_count()} cores, load average at start {_load():.1f}"]
    if args.only in (None, "throughput"):
        lines.append(f"Foragers, {N_AGENTS} agents per world, DQN: agent-steps per second over {window:,} steps "
                     f"after {warm:,} (median of {repeats}; load average before -> after)")
        lines.append(f"  {'mode':<10} {'set-up':<16} {'steps/s':>8} {'x single':>9}  {'load':>11}  where the time goes")
        for mode in ("env-bound", "learning"):
            runs: dict[str, list[dict]] = {"single process": [], "1 worker": [], "2 workers": []}
            for _ in range(repeats):
                runs["single process"].append(run_child("single", mode, warm, window))
                runs["1 worker"].append(run_child("workers", mode, 1, warm, window))
                runs["2 workers"].append(run_child("workers", mode, 2, warm, window))
            found.setdefault("throughput", {"agents": N_AGENTS, "warm": warm, "window": window})[mode] = runs
            base = statistics.median(r["steps_per_sec"] for r in runs["single process"])
            for setup, rs in runs.items():
                rate = statistics.median(r["steps_per_sec"] for r in rs)
                last = rs[-1]
                lines.append(f"  {mode:<10} {setup:<16} {rate:8,.0f} {rate / base:8.2f}x  "
                             f"{last['load'][0]:4.1f} -> {last['load'][1]:4.1f}  {_shares(last['seconds'])}")
                print(lines[-1], file=sys.stderr, flush=True)
    if args.only in (None, "curve"):
        steps, every = (30_000, 7_500) if q else (60_000, 10_000)
        lines.append(f"Learning curve: Foragers, 16 agents per world, foragers_dqn, {steps:,} steps; greedy mean "
                     "return of 16 evaluation episodes at each step")
        curves = {kind: run_child("curve", kind, steps, every) for kind in ("single", "workers")}
        rand = run_child("random", steps, every)["mean"]
        found["curve"] = {"agents": 16, "steps": steps, "every": every, "random": rand, **curves}
        lines.append(f"  {'step':>8} {'single process':>15} {'2 workers':>10}")
        for (step, a), (_, b) in zip(curves["single"]["curve"], curves["workers"]["curve"]):
            lines.append(f"  {step:8,} {a:15.1f} {b:10.1f}")
        lines.append(f"  trained in: single {curves['single']['seconds']:.0f}s, 2 workers "
                     f"{curves['workers']['seconds']:.0f}s (Ray's start included); random policy: {rand:.1f}")
    lines.append(f"load average at the end {_load():.1f}")
    print("\n".join(lines))
    write("distributed-throughput", {"meta": meta(load, q), **found}, args.write)


if __name__ == "__main__":
    main()
