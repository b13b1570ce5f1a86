"""Foragers with 256 agents per world, DQN: the single-process plugin vs 1 and 2 Ray workers, side by side.

    python benchmarks/distributed_throughput.py             # throughput (3 repeats) and the learning curves
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
PAIR = "2 single processes"  # side by side, nothing shared: the most two cores give this world


def _load() -> float:
    return os.getloadavg()[0]


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of process ``root`` and all its descendants, read from /proc (Linux):
    the learner, Ray's own processes it started and the workers Ray started."""
    parents, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(entry)], ticks[int(entry)] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def _session(mode: str, steps: int | None = None, agents: int = N_AGENTS, swarm: bool = True):
    from ecs_rl import TrainingSession
    from ecs_rl.algorithms import DqnAgent, presets
    from ecs_rl.worlds import foragers

    if swarm:
        config = presets.foragers_swarm_dqn(0, total_steps=10**7)
        if mode == "env-bound":
            config.learning_starts = 10**12
    else:
        config = presets.foragers_dqn(0, total_steps=steps)
    session = TrainingSession(DqnAgent(foragers.observation_space, foragers.action_space, config))
    return session.with_max_steps(steps) if steps else session


# -- children: one measurement each ------------------------------------------------------------------

def child_single(mode: str, warm: int, window: int, agents: int = N_AGENTS) -> dict:
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
    foragers.build(agents, seed=0)
    plugin = install({"foragers": session}, reset=foragers.reset)
    step_world(warm // agents, plugin=plugin)
    spent.update(act=0.0, learn=0.0)
    steps, started, cpu = session.total_steps, time.perf_counter(), time.process_time()
    step_world(window // agents, plugin=plugin)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    steps = session.total_steps - steps
    return {"steps_per_sec": steps / seconds, "cpu_us_per_step": {"process": 1e6 * cpu / steps}, "seconds": {
        "world": seconds - spent["act"] - spent["learn"], "act": spent["act"], "learn": spent["learn"]}}


def child_workers(mode: str, workers: int, warm: int, window: int, ticks_per_call: int, in_flight: int,
                  agents: int = N_AGENTS) -> dict:
    from ecs_rl.distributed import train

    session = _session(mode)
    marks: list[tuple[float, int, float, float]] = []

    def stop() -> bool:
        if not marks and session.total_steps >= warm:
            marks.append((time.perf_counter(), session.total_steps, time.process_time(), _tree_cpu(os.getpid())))
        if marks and session.total_steps >= marks[0][1] + window:
            marks.append((time.perf_counter(), session.total_steps, time.process_time(), _tree_cpu(os.getpid())))
            return True
        return False

    result = train("foragers", session, workers, envs=agents, stop=stop, ticks_per_call=ticks_per_call,
                   in_flight=in_flight)
    (t0, s0, c0, a0), (t1, s1, c1, a1) = marks
    # CPU per agent-step: the workers' in their ticks (summed, over every chunk they sent), the learner's and
    # all processes' together (learner, workers, Ray's own) over the window
    cpu = {"workers": 1e6 * result.seconds["cpu"] / result.transitions, "learner": 1e6 * (c1 - c0) / (s1 - s0),
           "all": 1e6 * (a1 - a0) / (s1 - s0)}
    return {"steps_per_sec": (s1 - s0) / (t1 - t0), "cpu_us_per_step": cpu, "seconds": result.seconds,
            "nodes": len(set(result.nodes))}


def child_curve(kind: str, steps: int, every: int, ticks_per_call: int) -> dict:
    import esper
    from ecs_rl.ecs import Evaluation, install, step_world
    from ecs_rl.worlds import foragers

    agents = 16
    session = _session("learning", steps, agents, swarm=False)
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

        history = train("foragers", session, 2, envs=agents, evaluation=evaluation,
                        ticks_per_call=ticks_per_call).plugin.eval_history
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
    return run_children(1, *args)[0]


def run_children(copies: int, *args: object) -> list[dict]:
    """``copies`` children with the same arguments, side by side; each one's result, with the load."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    before = _load()
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", *map(str, args)],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(copies)]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"benchmark child {args} failed:\n{err.strip()[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    for result in results:
        result["load"] = (before, _load())
    return results


def run_pair(*args: object) -> dict:
    """Two single processes side by side, no Ray and nothing shared: what two cores give this world at most.
    Their rates add up (their windows overlap: same work, started together); CPU per step is their mean."""
    a, b = run_children(2, *args)
    return {"steps_per_sec": a["steps_per_sec"] + b["steps_per_sec"],
            "cpu_us_per_step": {"process": (a["cpu_us_per_step"]["process"] + b["cpu_us_per_step"]["process"]) / 2},
            "seconds": {k: a["seconds"][k] + b["seconds"][k] for k in a["seconds"]}, "load": a["load"]}


def _shares(result: dict) -> str:
    seconds = result["seconds"]
    keys = [k for k in ("world", "act", "pack", "learn", "start", "wait", "feed", "broadcast") if k in seconds]
    text = ", ".join(f"{k} {seconds[k]:.1f}s" for k in keys)
    text += f" (of {seconds['wall']:.1f}s wall)" if "wall" in seconds else ""
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_us_per_step"].items())
    return f"{text}; CPU us per agent-step: {cpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["throughput", "curve"])
    parser.add_argument("--mode", choices=["env-bound", "learning"], help="only this throughput mode")
    parser.add_argument("--ticks-per-call", type=int, default=64, help="ticks per worker chunk of the throughput runs and the curve (default 64; train's own default is 16)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each set-up, alternating (default 3; --quick: 1)")
    parser.add_argument("--agents", type=int, default=N_AGENTS, help="agents per world (default 256)")
    parser.add_argument("--in-flight", type=int, default=2, help="chunks asked of each worker at a time (default 2)")
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
    repeats = 1 if q else args.repeats
    agents = args.agents
    warm, window = N_AGENTS * 40, N_AGENTS * (200 if q else 800)  # agent-steps, whatever the world's size
    lines = [f"machine: {os.cpu_count()} cores, load average at start {_load():.1f}"]
    if args.only in (None, "throughput"):
        lines.append(f"Foragers, {agents} agents per world, DQN: agent-steps per second over {window:,} steps "
                     f"after {warm:,} (median of {repeats}; load average before -> after)")
        lines.append(f"  {'mode':<10} {'set-up':<16} {'steps/s':>8} {'x single':>9}  {'load':>11}  where the time goes")
        for mode in [args.mode] if args.mode else ("env-bound", "learning"):
            runs: dict[str, list[dict]] = {"single process": [], "1 worker": [], "2 workers": []}
            if mode == "env-bound":
                runs[PAIR] = []
            for _ in range(repeats):
                runs["single process"].append(run_child("single", mode, warm, window, agents))
                if mode == "env-bound":
                    runs[PAIR].append(run_pair("single", mode, warm, window, agents))
                for n, setup in ((1, "1 worker"), (2, "2 workers")):
                    runs[setup].append(run_child("workers", mode, n, warm, window, args.ticks_per_call,
                                                 args.in_flight, agents))
            found.setdefault("throughput", {"agents": agents, "warm": warm, "window": window,
                                            "ticks_per_call": args.ticks_per_call,
                                            "in_flight": args.in_flight})[mode] = runs
            base = statistics.median(r["steps_per_sec"] for r in runs["single process"])
            for setup, rs in runs.items():
                rate = statistics.median(r["steps_per_sec"] for r in rs)
                last = rs[-1]
                lines.append(f"  {mode:<10} {setup:<16} {rate:8,.0f} {rate / base:8.2f}x  "
                             f"{last['load'][0]:4.1f} -> {last['load'][1]:4.1f}  {_shares(last)}")
                print(lines[-1], file=sys.stderr, flush=True)
    if args.only in (None, "curve"):
        steps, every = (30_000, 7_500) if q else (60_000, 10_000)
        lines.append(f"Learning curve: Foragers, 16 agents per world, foragers_dqn, {steps:,} steps; greedy mean "
                     "return of 16 evaluation episodes at each step")
        curves = {kind: run_child("curve", kind, steps, every, args.ticks_per_call) for kind in ("single", "workers")}
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
