"""Every figure of README.md and benchmarks/README.md, rendered from the committed results files.

    python benchmarks/report.py            # rewrite the marked regions of both READMEs from benchmarks/results/
    python benchmarks/report.py --check    # change nothing; exit 1 naming every region that differs
    python benchmarks/report.py --plots    # also redraw the plots in assets/ (reward curves, self-play ratings)

A region is the text between ``<!-- figures: NAME -->`` and ``<!-- /figures -->``: the prose around it stays
hand-written, no number inside it is. Each NAME has one renderer below, which reads the results files that the
benchmarks write with ``--write`` (``benchmarks/results_file.py``) and says, beside each figure, the command
that measures it, the date and the machine's load (or that the file predates recording them, or that it comes
from a ``--quick`` run to be redone). The plots are ``ecs-rl plot``'s drawing (``ecs_rl.plot.plot_runs``) of the
per-episode rewards and evaluations in ``cartpole-seeds.json`` and ``foragers-demo.json``: the same runs as
the solve steps beside them; and ``ecs-rl plot --ratings``'s drawing (``plot_ratings``) of the ratings of
``selfplay-ratings.json``'s plotted seed, the same runs as the ratings table.

Only the standard library is imported here (matplotlib and ecs_rl for ``--plots``), so the check is fast.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README, BENCH_README = Path("README.md"), Path("benchmarks/README.md")
RESULTS = Path("benchmarks/results")
REGION = re.compile(r"(<!-- figures: ([\w.-]+) -->\n)(.*?)(<!-- /figures -->)", re.S)


class Missing(Exception):
    """A results file a region needs is not there (or not readable)."""

    def __init__(self, message: str, name: str):
        super().__init__(message)
        self.name = name


class Results:
    """The results files under one tree's benchmarks/results/, read once each."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, dict] = {}

    def __call__(self, name: str) -> dict:
        if name not in self._cache:
            path = self.root / RESULTS / f"{name}.json"
            try:
                self._cache[name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise Missing(f"{path}: {exc.strerror if isinstance(exc, OSError) else exc}",
                              f"benchmarks/results/{name}.json") from None
        return self._cache[name]


# -- formatting -----------------------------------------------------------------------------------

def n(x: float) -> str:
    """A whole number with a space between thousands (README's prose style): 10 000."""
    return f"{round(x):,}".replace(",", " ")


def ratio(x: float) -> str:
    return f"{x:.2f}x"


def median(xs) -> float:
    return statistics.median(list(xs))


def when(data: dict) -> str:
    """Date and load of a results file, from its ``meta`` (files written before ``--write`` have none)."""
    m = data.get("meta")
    if not m:
        return "date and load not recorded"
    lo, hi = sorted(m["load"])
    load = f"{lo:.1f}" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}-{hi:.1f}"
    text = f"{m['date'][:10]}, load {load}"
    return text + (", a `--quick` run: to redo" if m.get("quick") else "")


def verdict(ok: bool, no: str = "not met") -> str:
    return "met" if ok else f"**{no}**"


# -- algorithms_vs_sb3.py ---------------------------------------------------------------------------

def solved_step(run: dict, target: float) -> int | None:
    """The first evaluation step reaching the target (>= a positive one, > a negative one), else None."""
    return next((s for s, m in run["evals"] if (m >= target if target > 0 else m > target)), None)


def sb3_table(task_name: str, data: dict) -> list[str]:
    """The table algorithms_vs_sb3.py prints, from its results (``{"task": ..., "results": {library: [runs]}}``)."""
    task, results = data["task"], data["results"]
    libraries = list(results)
    lines = [f"### {task_name}: {task['env']}, {task['n_envs']} env(s), {task['steps']:,} steps, "
             f"eval every {task['eval_freq']:,} steps (20 greedy episodes)", "",
             "| library | seeds reaching target | steps to target (per seed) | final eval mean | best eval mean | "
             "train seconds (mean) |", "|---|---|---|---|---|---|"]
    for lib in libraries:
        rs = results[lib]
        steps = [solved_step(r, task["target"]) for r in rs]
        lines.append(f"| {lib} | {sum(s is not None for s in steps)}/{len(rs)} | "
                     f"{', '.join('-' if s is None else f'{s:,}' for s in steps)} | "
                     f"{statistics.mean(r['evals'][-1][1] for r in rs):.1f} | "
                     f"{statistics.mean(max(m for _, m in r['evals']) for r in rs):.1f} | "
                     f"{statistics.mean(r['train_seconds'] for r in rs):.1f} |")
    lines.append("")
    for lib in libraries[1:]:
        rs = ratios(data, lib)
        lines.append(f"wall-clock ratio ours / {lib}: median {median(rs):.2f} "
                     f"(per seed: {', '.join(f'{r:.2f}' for r in rs)})  ")
    lines[-1] = lines[-1].rstrip()
    return lines


def ratios(data: dict, lib: str) -> list[float]:
    return [o["train_seconds"] / s["train_seconds"] for o, s in zip(data["results"]["ours"], data["results"][lib])]


def sb3_summary(data: dict) -> tuple[int, int, list[int | None]]:
    steps = [solved_step(r, data["task"]["target"]) for r in data["results"]["ours"]]
    return sum(s is not None for s in steps), len(steps), steps


def region_sb3(task_name: str):
    def render(results: Results) -> str:
        data = results(task_name)
        note = ["", f"({data['note']}; {when(data)}.)" if data.get("note") else f"({when(data)}.)"]
        return "\n".join(sb3_table(task_name, data) + note)
    return render


def region_dqn_seeds(results: Results) -> str:
    data = results("dqn-seeds5-9")
    if isinstance(data["task"], str):  # this file names its task; the task's settings are dqn.json's
        data = {**data, "task": results(data["task"])["task"]}
    lines = sb3_table("dqn", data)[2:]
    lines = [line for line in lines if not line.startswith("wall-clock")]
    head = (f"Seeds {data['seeds'][0]}-{data['seeds'][-1]} (`--child dqn <lib> <seed>`; {when(data)}):")
    return "\n".join([head, ""] + [line for line in lines if line])


def seconds(runs: list[dict]) -> str:
    return ", ".join(f"{r['train_seconds']:.1f}" for r in runs)


def region_update_speed(results: Results) -> str:
    lines = ["| task | ours / sb3-same per seed | seconds, ours and SB3 per seed | learning | date, load |",
             "|---|---|---|---|---|"]
    for task_name in ("dqn", "ppo"):
        data = results(f"update-speed/{task_name}")
        rs = ratios(data, "sb3-same")
        ok, total, steps = sb3_summary(data)
        ours, sb3 = data["results"]["ours"], data["results"]["sb3-same"]
        lines.append(f"| {task_name} | {', '.join(f'{r:.2f}' for r in rs)} (median {median(rs):.2f}) | "
                     f"{seconds(ours)}; {seconds(sb3)} | "
                     f"{ok}/{total} solved ({', '.join('-' if s is None else n(s) for s in steps)} steps), final "
                     f"eval mean {statistics.mean(r['evals'][-1][1] for r in ours):.1f} | {when(data)} |")
    return "\n".join(lines)


def region_dqn_final(results: Results) -> str:
    first, more = results("dqn"), results("dqn-seeds5-9")
    final = lambda data, lib: [r["evals"][-1][1] for r in data["results"][lib]]  # noqa: E731
    ours5, sb5 = final(first, "ours"), final(first, "sb3-same")
    ours10, sb10 = ours5 + final(more, "ours"), sb5 + final(more, "sb3-same")
    spread = max(statistics.pstdev(ours10), statistics.pstdev(sb10))
    target = first["task"]["target"]
    best = lambda data, lib: max(max(m for _, m in r["evals"]) for r in data["results"][lib])  # noqa: E731
    solved = lambda data, lib: sum(solved_step(r, target) is not None for r in data["results"][lib])  # noqa: E731
    return (f"DQN's final greedy snapshot is unstable in both libraries (same algorithm and settings): at exactly\n"
            f"50 000 steps it averaged {statistics.mean(ours5):.0f} for ecs-rl and {statistics.mean(sb5):.0f} for SB3 "
            f"over seeds 0-4 ({statistics.mean(ours10):.0f} vs {statistics.mean(sb10):.0f} over seeds 0-9, standard "
            f"deviation up to {spread:.0f}),\nbest {best(first, 'ours'):.0f} for ecs-rl and {best(first, 'sb3-same'):.0f} "
            f"for SB3; over seeds 0-9 ecs-rl solves {solved(first, 'ours') + solved(more, 'ours')} of 10 seeds, "
            f"SB3 {solved(first, 'sb3-same') + solved(more, 'sb3-same')}.")


# -- ecs_plugin.py, inference_speed.py -------------------------------------------------------------

def plugin_figures(data: dict) -> dict:
    o, b, t, h = data["overhead"], data["batching"], data["training"], data["hunt"]
    return {"overhead": median(e / p for e, p in zip(o["ecs_steps_per_sec"], o["plain_steps_per_sec"])),
            "overhead_runs": len(o["ecs_steps_per_sec"]),
            "batching": median(m / one for one, m in zip(b["seconds_per_agent_step_1"], b["seconds_per_agent_step_256"])),
            "one_us": median(b["seconds_per_agent_step_1"]) * 1e6, "many_us": median(b["seconds_per_agent_step_256"]) * 1e6,
            "training": median(e / p for e, p in zip(t["ecs_steps_per_sec"], t["plain_steps_per_sec"])),
            "hunt_random": median(h["random_ticks_per_sec"]), "hunt_learning": median(h["learning_ticks_per_sec"])}


def region_ecs_plugin(results: Results) -> str:
    data = results("ecs-plugin")
    f, o, t = plugin_figures(data), data["overhead"], data["training"]
    return "\n".join([
        f"Latest run ({when(data)}; `{data['meta']['command']}`):", "",
        "| comparison | figure | target |", "|---|---|---|",
        f"| overhead: random policy on {o['entities']} CartPole entities, ECS vs plain loop over the same physics and "
        f"session calls | {ratio(f['overhead'])} (ECS {median(o['ecs_steps_per_sec']):,.0f} steps/s, plain loop "
        f"{median(o['plain_steps_per_sec']):,.0f} steps/s; median of {f['overhead_runs']}) | >= 0.80: "
        f"{verdict(f['overhead'] >= 0.8)} |",
        f"| batching: decide cost per agent-step, 256 entities vs 1 (DQN policy, greedy) | 1/{1 / f['batching']:.0f} "
        f"(1 entity {f['one_us']:.1f} us, 256 entities {f['many_us']:.2f} us) | <= 1/20: "
        f"{verdict(f['batching'] <= 1 / 20)} |",
        f"| training: DQN on ECS CartPole vs the plain Gymnasium loop, 1 entity, {t['steps']:,} steps | "
        f"{ratio(f['training'])}; episode rewards {'identical' if t['identical'] else '**not identical**'} "
        f"({t['episodes']} episodes) | >= 0.95, identical: {verdict(f['training'] >= 0.95 and t['identical'])} |",
        f"| Hunt, 256 agents, deaths and respawns, {data['hunt']['ticks']} ticks | random teams "
        f"{f['hunt_random']:,.0f} ticks/s; both teams learning (DQN) {f['hunt_learning']:,.1f} ticks/s | tracked |"])


def inference_figures(data: dict) -> dict:
    med = {p: {b: median(ts) for b, ts in by.items()} for p, by in data["seconds_per_call"].items()}
    torch = med["torch (best.pt)"]
    return {"med": med, "vs": {p: {b: med[p][b] / torch[b] for b in med[p]} for p in med}}


def region_inference_speed(results: Results) -> str:
    data = results("inference-speed")
    f = inference_figures(data)
    sizes = data["bytes"]
    lines = [f"Latest run ({when(data)}), MLP {'-'.join(map(str, data['arch']))}, {data['rounds']} rounds:", "",
             "| file | bytes | vs best.pt |", "|---|---:|---:|"]
    lines += [f"| {name} | {size:,} | {size / sizes['best.pt']:.2f}x |" for name, size in sizes.items()]
    lines += ["", "| policy | batch 1: us per decision | vs torch | batch 256: us per call | us per decision | vs torch |",
              "|---|---:|---:|---:|---:|---:|"]
    for p, by in f["med"].items():
        lines.append(f"| {p} | {by['1'] * 1e6:.1f} | {f['vs'][p]['1']:.2f}x | {by['256'] * 1e6:.1f} | "
                     f"{by['256'] / 256 * 1e6:.3f} | {f['vs'][p]['256']:.2f}x |")
    return "\n".join(lines)


def region_readme_inference(results: Results) -> str:
    data = results("inference-speed")
    f, sizes = inference_figures(data), data["bytes"]
    rows = [("torch `GreedyPolicy` (`best.pt`)", "torch (best.pt)", "best.pt"),
            ("numpy (`.npz`)", "numpy (.npz)", ".npz"), ("onnxruntime (`.onnx`)", "onnxruntime (.onnx)", ".onnx")]
    lines = [f"Cost per decision (`benchmarks/inference_speed.py`: CartPole DQN, MLP {'-'.join(map(str, data['arch']))},"
             f" the three policies", f"timed in interleaved rounds in one run, median round, one thread each; "
             f"{data['meta']['cpus']} cores, {when(data)}):", "",
             "| | file size | batch 1, vs torch | batch 256, vs torch |", "|---|---:|---:|---:|"]
    lines += [f"| {label} | {n(sizes[size])} bytes | {ratio(f['vs'][key]['1'])} | {ratio(f['vs'][key]['256'])} |"
              for label, key, size in rows]
    lines += ["", f"At batch 1 numpy skips torch's per-call dispatch (here {f['med']['numpy (.npz)']['1'] * 1e6:.0f} vs "
              f"{f['med']['torch (best.pt)']['1'] * 1e6:.0f} us a decision)."]
    return "\n".join(lines)


def region_inference_blas(results: Results) -> str:
    data, one = results("inference-speed-blas0"), results("inference-speed")
    f = inference_figures(data)
    return (f"With `--blas-threads 0` (OpenBLAS with its default threads; {when(data)}) the numpy policy took "
            f"{f['med']['numpy (.npz)']['256'] * 1e6:,.0f} us per batch-256 call, {ratio(f['vs']['numpy (.npz)']['256'])} "
            f"torch's (with one thread: {ratio(inference_figures(one)['vs']['numpy (.npz)']['256'])}), and "
            f"{ratio(f['vs']['numpy (.npz)']['1'])} at batch 1: hence the one-thread advice in the README's \"Ship it\".")


# -- foragers_swarm.py, dashboard_load.py, distributed_throughput.py --------------------------------

def swarm_figures(data: dict) -> dict:
    out = {}
    for kind, r in data.get("speed", {}).items():
        if not isinstance(r, dict):  # the settings beside the kinds: agents, warmup, ticks
            continue
        tps, cpu = r["ticks_per_sec"], r["ticks_per_cpu_sec"]
        out[kind] = {"before": median(tps["before"]), "after": median(tps["after"]),
                     "x": median(a / b for a, b in zip(tps["after"], tps["before"])), "cpu": median(cpu["after"]),
                     "cpu_before": median(cpu["before"])}
    if "learning" in data:
        g = data["learning"]["greedy"]
        out["greedy"] = {side: statistics.mean(v) for side, v in g.items()}
    return out


def region_swarm(results: Results) -> str:
    data = results("foragers-swarm")
    f = swarm_figures(data)
    lines = [f"Latest run ({when(data)}; `{data['meta']['command']}`), against {data['before']}:", ""]
    if "speed" in data:
        lines += ["| 256 Foragers, 40 x 40 | before | after | after / before | after, per CPU-second |",
                  "|---|---|---|---|---|"]
        for kind, label in (("random", "random policy"), ("dqn", "DQN learning"), ("ppo", "PPO learning")):
            if kind in f:
                lines.append(f"| {label}, ticks/s | {f[kind]['before']:.1f} | {f[kind]['after']:.1f} | "
                             f"{f[kind]['x']:.1f}x | {f[kind]['cpu']:.1f} |")
    if "learning" in data:
        ln = data["learning"]
        g = ln["greedy"]
        seeds = ln["seeds"]
        lines += ["", f"| greedy return per agent after {ln['agent_steps']:,} agent-steps | "
                  + " | ".join(f"seed {s}" for s in seeds) + " | mean |", "|---|" + "---|" * (len(seeds) + 1)]
        for side, label in (("after", "after"), ("before", f"before ({data['before']})"),
                            ("random", "random policy (the same arenas)")):
            lines.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in g[side]) + f" | {statistics.mean(g[side]):.1f} |")
        secs = ln["train_seconds"]
        lines += ["", f"Training took {min(secs['after']):.0f}-{max(secs['after']):.0f} s after, "
                  f"{min(secs['before']):.0f}-{max(secs['before']):.0f} s before."]
    return "\n".join(lines)


def dashboard_figures(data: dict) -> dict:
    arms = data["arms"]
    page, none = arms["page open"], arms["no page"]
    wall = sum(r["wall_seconds"] for r in page)
    return {"wall": median(r["steps_per_sec"] for r in page) / median(r["steps_per_sec"] for r in none),
            "cpu": median(r["steps_per_cpu_sec"] for r in page) / median(r["steps_per_cpu_sec"] for r in none),
            "server": sum(r["server_cpu_seconds"] for r in page) / wall,
            "browser": sum(r["browser_cpu_seconds"] for r in page) / wall,
            "poll": [p["server_cpu_ms"] for p in data["poll"]], "rounds": len(page)}


def region_dashboard(results: Results) -> str:
    data = results("dashboard-load")
    f = dashboard_figures(data)
    lines = [f"Latest run ({when(data)}; `{data['meta']['command']}`, {data['steps']:,} steps a run):", "",
             "| round | no page: steps/s (per CPU-s) | page open: steps/s (per CPU-s) | server CPU, page open | "
             "browser CPU, page open |", "|---|---|---|---|---|"]
    for r, (none, page) in enumerate(zip(data["arms"]["no page"], data["arms"]["page open"])):
        lines.append(f"| {r} | {n(none['steps_per_sec'])} ({n(none['steps_per_cpu_sec'])}) | {n(page['steps_per_sec'])} "
                     f"({n(page['steps_per_cpu_sec'])}) | {page['server_cpu_seconds']:.2f} s of "
                     f"{page['wall_seconds']:.1f} s | {page['browser_cpu_seconds']:.2f} s |")
    lines += ["", f"Page open / no page: {f['wall']:.3f}x steps/s, {f['cpu']:.3f}x steps per CPU-second of training; "
              f"server {f['server']:.1%}, browser {f['browser']:.1%} of one core. One poll of an up-to-date client: "
              + ", ".join(f"{p['server_cpu_ms']:.2f} ms of server CPU on a {n(p['lines'])}-line log" for p in data["poll"])
              + "."]
    return "\n".join(lines)


MODES = ("env-bound", "learning")


SETUPS = ("single process", "1 worker", "2 workers")
PAIR = "2 single processes"  # distributed_throughput.py: two independent single processes side by side


def distributed_figures(data: dict) -> dict:
    out = {}
    for mode in MODES:
        if mode not in data["throughput"]:
            continue
        runs = data["throughput"][mode]
        rate = {setup: median(r["steps_per_sec"] for r in rs) for setup, rs in runs.items()}
        out[mode] = {setup: (v, v / rate["single process"]) for setup, v in rate.items()}
    return out


def distributed_cpu(t: dict) -> dict:
    """Median CPU microseconds per agent-step of each part, per mode and set-up (files that have them)."""
    out = {}
    for mode in MODES:
        runs = t.get(mode, {})
        if runs and all("cpu_us_per_step" in r for rs in runs.values() for r in rs):
            out[mode] = {setup: {k: median(r["cpu_us_per_step"][k] for r in rs) for k in rs[0]["cpu_us_per_step"]}
                         for setup, rs in runs.items()}
    return out


def region_distributed(results: Results) -> str:
    data = results("distributed-throughput")
    f, t = distributed_figures(data), data["throughput"]
    modes = [mode for mode in MODES if mode in t]
    loads = [x for mode in modes for rs in t[mode].values() for r in rs for x in r["load"]]
    chunks = f", chunks of {t['ticks_per_call']} ticks" if "ticks_per_call" in t else ""
    lines = [f"Figures (`{data['meta']['command']}`: Foragers, {t['agents']} agents per world, DQN{chunks}; agent-steps the "
             f"learner took per second over {n(t['window'])} steps after a warm-up of {n(t['warm'])}, median of "
             f"{len(t[modes[0]]['single process'])}, the set-ups alternating in one run; {when(data)}, "
             f"load during the runs {min(loads):.1f}-{max(loads):.1f}):", "",
             "| agent-steps/s (x single process) | single process | 1 worker | 2 workers |", "|---|---|---|---|"]
    for mode, label in (("env-bound", "env-bound (DQN acts and stores, no updates)"),
                        ("learning", "learning (`foragers_swarm_dqn`)")):
        if mode not in f:
            continue
        cells = [n(v) if setup == "single process" else f"{n(v)} ({x:.2f}x)" for setup, (v, x) in f[mode].items()
                 if setup in SETUPS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cpu = distributed_cpu(t)
    for mode in modes:
        if mode in cpu:
            c = cpu[mode]
            cells = [f"{c['single process']['process']:.1f}"] + [
                f"workers {c[setup]['workers']:.1f}, learner {c[setup]['learner']:.1f}, all {c[setup]['all']:.1f}"
                for setup in ("1 worker", "2 workers")]
            lines.append(f"| {mode}, CPU us per agent-step (median) | " + " | ".join(cells) + " |")
    if "env-bound" in cpu:
        c = cpu["env-bound"]
        bound = 2 * c["single process"]["process"] / c["2 workers"]["all"]
        lines += ["", f"CPU per agent-step depends far less on how the machine is shared than wall-clock rates: on 2 free cores, 2 workers "
                  f"can reach at most 2 x {c['single process']['process']:.1f} / {c['2 workers']['all']:.1f} = "
                  f"{bound:.2f}x the single process env-bound."]
        if PAIR in c:
            rate, x = f["env-bound"][PAIR]
            lines[-1] += (f" Two single processes side by side (no Ray, nothing shared: the most two cores give this "
                          f"world) ran {n(rate)} agent-steps/s together ({x:.2f}x), {c[PAIR]['process']:.1f} us of CPU "
                          f"per agent-step each: running both cores costs each process "
                          f"{c[PAIR]['process'] / c['single process']['process'] - 1:+.0%} CPU per step.")
    shares = []
    for mode in modes:
        s = t[mode]["2 workers"][-1]["seconds"]
        parts = ", ".join(f"{k} {s[k]:.1f} s" for k in ("world", "act", "pack", "start", "wait", "feed", "broadcast")
                          if k in s)
        shares.append(f"{mode}" + (f", of {s['wall']:.1f} s wall" if "wall" in s else "") + f": {parts}")
    lines += ["", "Where the time goes (2 workers, the workers' figures summed over both): " + "; ".join(shares) + "."]
    if "env-bound" in f:
        x2 = f["env-bound"]["2 workers"][1]
        runs = t["env-bound"]
        rounds = sorted(w["steps_per_sec"] / one["steps_per_sec"]
                        for one, w in zip(runs["single process"], runs["2 workers"]))
        spread = (f"; round by round (each set-up once per round, back to back) {rounds[0]:.2f}x-{rounds[-1]:.2f}x, "
                  f"median {median(rounds):.2f}x" if len(rounds) > 1 else "")
        lines += ["", f"The 1.6x aim for 2 workers env-bound: {verdict(x2 >= 1.6, 'not reached')} ({x2:.2f}x, the "
                  f"ratio of the median rates{spread})."]
    if "curve" in data:
        c = data["curve"]
        steps = [s for s, _ in c["single"]["curve"]]
        lines += ["", f"Learning curve at the same budget ({c['agents']} agents per world, `foragers_dqn`{chunks}, "
                  f"{n(c['steps'])} steps, greedy mean of 16 episodes; random policy {c['random']:.1f}): single process "
                  + " / ".join(f"{m:.1f}" for _, m in c["single"]["curve"]) + " at " + " / ".join(n(s) for s in steps)
                  + " steps, 2 workers " + " / ".join(f"{m:.1f}" for _, m in c["workers"]["curve"]) + "."]
    return "\n".join(lines)


# -- demo_games.py ----------------------------------------------------------------------------------

def region_main_job(results: Results) -> str:
    data = results("cartpole-seeds")
    runs = data["runs"]
    seeds = f"{runs[0]['seed']}-{runs[-1]['seed']}"
    steps = " / ".join(n(r["solved_step"]) if r["solved_step"] is not None else "unsolved" for r in runs)
    secs = " / ".join(f"{r['train_seconds']:.0f}" if r["train_seconds"] is not None else "-" for r in runs)
    return (f"Measured here (`benchmarks/demo_games.py --only cartpole`, {when(data)}): seeds {seeds} solved at\n"
            f"{steps} steps ({secs} s of training).")


def region_foragers_demo(results: Results) -> str:
    data = results("foragers-demo")
    r, e = data["run"], data["eval"]
    return (f"After `ecs-rl train foragers` ({n(r['steps'])} steps, {r['wall_seconds']:.0f} s here; {when(data)}) the "
            f"agents earn\n{statistics.mean(e['trained']):.1f} per episode (std {statistics.pstdev(e['trained']):.1f}) "
            f"against {statistics.mean(e['random']):.1f} (std {statistics.pstdev(e['random']):.1f}) for a random "
            f"policy on the same {len(e['trained'])} held-out\nevaluation episodes (`ecs-rl eval runs/foragers "
            f"--baseline`; `benchmarks/demo_games.py --only foragers`).")


def region_hunt_demo(results: Results) -> str:
    data = results("hunt-demo")
    worlds = re.search(r"(\d+) world\(s\) of (\d+) agents", data["eval_title"])
    teams = ", ".join(f"{p} {t:+.2f} (random {p} {data['random'][p]:+.2f})" for p, t in data["trained"].items())
    budget = " and ".join(f"{p} {n(k)}" for p, k in data["steps"].items())
    return (f"After the default `ecs-rl train hunt` ({budget} decisions, {data['wall_seconds']:.0f} s here; "
            f"{when(data)}),\nover {worlds.group(1)} worlds of {worlds.group(2)} agents: {teams} "
            f"(`benchmarks/demo_games.py --only hunt`).")


def region_reward_plots(results: Results) -> str:
    cart, forage = results("cartpole-seeds"), results("foragers-demo")
    return (f"Reward curves drawn by `ecs-rl plot` (`benchmarks/report.py --plots`) from the runs above: the "
            f"{len(cart['runs'])} CartPole seeds\n({when(cart)}) and the Foragers run ({when(forage)}):\n\n"
            "![CartPole reward](assets/cartpole_reward.png)\n![Foragers reward](assets/foragers_reward.png)")


def region_catch_demo(results: Results) -> str:
    data = results("catch-demo")
    e = data["eval"]
    best = dict(data["evals"]).get(data["solved_step"])
    return (f"Measured here (`benchmarks/demo_games.py --only catch`, {when(data)}): `train` solved at step "
            f"{n(data['solved_step'])}\n(greedy {best:.1f}) in {data['train_seconds']:.1f} s of training; "
            f"`eval --baseline --episodes 30`: greedy {e['trained']['mean']:.2f} +- {e['trained']['std']:.2f}\nvs "
            f"random {e['random']['mean']:.2f} +- {e['random']['std']:.2f} ({e['trained']['episodes']} episodes).")


def region_maze_masks(results: Results) -> str:
    data = results("maze-masks")
    rows = data["rows"]
    lines = [f"Measured here (`benchmarks/demo_games.py --only maze`, {when(data)}); the shortest paths score "
             f"{data['shortest_paths']:+.2f} on\nthese evaluations (the mean of {data['evaluations']}):", "",
             "| learner | seed | masked: mean / last | unmasked: mean / last | unmasked wall bumps |",
             "|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        algo = r["algo"].upper() if i == 0 or rows[i - 1]["algo"] != r["algo"] else ""
        lines.append(f"| {algo} | {r['seed']} | {r['masked'][0]:+.2f} / {r['masked'][1]:+.2f} | "
                     f"{r['unmasked'][0]:+.2f} / {r['unmasked'][1]:+.2f} | {n(r['bumps'])} |")
    ahead = sum(r["masked"][0] > r["unmasked"][0] for r in rows)

    def span(side: str) -> str:
        lo, hi = (f"{f(r[side][1] for r in rows):+.2f}" for f in (min, max))
        return f"all {lo}" if lo == hi else f"from {lo} to {hi}"

    lines += ["", f"The masked learner's mean (the area under its learning curve) is above the unmasked one's in "
              f"{ahead} of {len(rows)} runs;\nthe last evaluations: masked {span('masked')}, unmasked "
              f"{span('unmasked')}."]
    return "\n".join(lines)


def region_checkpoint_size(results: Results) -> str:
    data = results("checkpoint-size")
    b, t = data["bytes"], data["seconds"]
    return (f"With a full replay buffer at `presets.cartpole_dqn` ({n(data['transitions'])} transitions) `latest.pt` "
            f"is {b['with replay'] / 1e6:.2f} MB and a save\ntakes {median(t['with replay']) * 1e3:.0f} ms, against "
            f"{b['without replay'] / 1e6:.2f} MB and {median(t['without replay']) * 1e3:.0f} ms without it "
            f"(`benchmarks/checkpoint_size.py`, median of {data['rounds']} saves;\n{when(data)}).")


def seed_list(seeds: list[int]) -> str:
    """``0-3`` for a run of consecutive seeds, else ``0, 2``."""
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def selfplay_seeds(data: dict) -> str:
    return seed_list([s["seed"] for s in data["seeds"]])


def region_selfplay_ratings(results: Results) -> str:
    data = results("selfplay-ratings")
    seeds = data["seeds"]
    wall = [s["wall_seconds"] for s in seeds]
    lines = [f"After `ecs-rl train hunt --self-play` (default budgets, 24 agents, {min(wall):.0f}-{max(wall):.0f} s "
             f"here for seeds {selfplay_seeds(data)}; {when(data)};\n`benchmarks/selfplay_ratings.py`; the figure is "
             f"seed {data['plot_seed']}, `ecs-rl plot --ratings`, redrawn by `benchmarks/report.py --plots`):", "",
             "![Self-play ratings](assets/selfplay-ratings.png)", "",
             "| seed | predators: first snapshot / latest / current at the end "
             "| prey: first snapshot / latest / current at the end |", "|---|---|---|"]
    ahead: dict[str, list[int]] = {"predator": [], "prey": []}
    for s in seeds:
        cells = []
        for team in ("predator", "prey"):
            t = s["teams"][team]
            cells.append(f"{t['first']['rating']:.0f} / {t['latest']['rating']:.0f} / {t['current']['rating']:.0f}")
            if t["latest"]["rating"] > t["first"]["rating"]:
                ahead[team].append(s["seed"])
        lines.append(f"| {s['seed']} | {cells[0]} | {cells[1]} |")

    def which(team: str, label: str) -> str:
        got = ahead[team]
        if len(got) == len(seeds):
            return f"{label} on every seed"
        if not got:
            return f"{label} on no seed"
        return f"{label} on seed{'s' if len(got) > 1 else ''} {seed_list(got)} only"

    lines += ["", f"The latest snapshot is rated above the first: {which('predator', 'the predators')}; "
              f"{which('prey', 'the prey')}."]
    return "\n".join(lines)


def region_selfplay_head_to_head(results: Results) -> str:
    data = results("selfplay-head-to-head")
    games = data["games"]
    prey = [g["prey"] for g in games]
    predators = [g["predator"] for g in games]
    first_prey, latest_prey = prey[0], prey[-1]
    first_pred, latest_pred = predators[0], predators[-1]
    share = {(g["prey"], g["predator"]): g["escapes"] / max(1, g["catches"] + g["escapes"]) for g in games}
    vs_first = share[(latest_prey, first_pred)], share[(first_prey, first_pred)]
    vs_latest = share[(latest_prey, latest_pred)], share[(first_prey, latest_pred)]
    better = [which for which, (a, b) in (("first", vs_first), ("latest", vs_latest)) if a > b]
    against = {2: "both the first and the latest predators", 1: f"the {better[0]} predators only" if better else "",
               0: "neither the first nor the latest predators"}[len(better)]
    return (f"`benchmarks/selfplay_head_to_head.py` (seed {data['seed']}'s runs, {data['worlds']} worlds of "
            f"{n(data['ticks'])} ticks; {when(data)}): the latest prey\n(`{latest_prey}`) wins {vs_first[0]:.2f} of "
            f"its encounters with the first predators (`{first_pred}`), the first prey (`{first_prey}`)\n"
            f"{vs_first[1]:.2f}; with the latest predators (`{latest_pred}`) {vs_latest[0]:.2f} and {vs_latest[1]:.2f}. "
            f"The latest prey does better than the first\nagainst {against}.")


def region_selfplay_head_to_head_table(results: Results) -> str:
    data = results("selfplay-head-to-head")
    lines = [f"Latest run (seed {data['seed']}'s runs; {when(data)}):", "",
             "| prey snapshot (rating) | predator snapshot (rating) | catches | escapes | prey share |",
             "|---|---|---|---|---|"]
    for g in data["games"]:
        lines.append(f"| {g['prey']} ({g['prey_rating']:.0f}) | {g['predator']} ({g['predator_rating']:.0f}) | "
                     f"{n(g['catches'])} | {n(g['escapes'])} | "
                     f"{g['escapes'] / max(1, g['catches'] + g['escapes']):.2f} |")
    return "\n".join(lines)


# -- README's benchmark table -----------------------------------------------------------------------

def region_benchmarks(results: Results) -> str:
    rows = []

    def row(figure: str, target: str, command: str, data: dict) -> None:
        """One row; the command is the one recorded in the results file, where it has one."""
        if data.get("meta"):
            command = data["meta"]["command"].removeprefix("python benchmarks/")
        rows.append(f"| {figure} | {target} | `{command}` | {when(data)} |")

    for task, label, extra in (("dqn", "DQN, CartPole-v1, 50 000 steps", ""),
                               ("ppo", "PPO, CartPole-v1, 8 envs, 100 000 steps", ""),
                               ("ppo-pendulum", "PPO (Gaussian), Pendulum-v1, 4 envs, 200 000 steps", "")):
        data = results(task)
        ok, total, steps = sb3_summary(data)
        r_sb3, r_same = median(ratios(data, "sb3")), median(ratios(data, "sb3-same"))
        reached = "solved" if data["task"]["target"] > 0 else f"above {data['task']['target']:.0f}"
        finals = [r["evals"][-1][1] for r in data["results"]["ours"]]
        need = -(-total * 4 // 5)  # 4 of 5
        rows_target = f"{need}/{total} {reached}; <= 0.5: {verdict(ok >= need and r_same <= 0.5)}"
        row(f"{label}, {total} seeds: {ok}/{total} {reached} (by {n(max(s for s in steps if s is not None))} steps;"
            f" final eval mean {statistics.mean(finals):.0f}); {ratio(r_sb3)} SB3's wall-clock, {ratio(r_same)} with "
            "the same torch settings", rows_target, f"algorithms_vs_sb3.py --task {task} --write", data)
    speed = [results("update-speed/dqn"), results("update-speed/ppo")]
    rs = [median(ratios(d, "sb3-same")) for d in speed]
    seeds = [sb3_summary(d)[1] for d in speed]
    row(f"after the update-speed work: DQN {ratio(rs[0])} SB3 (same settings; median of {seeds[0]} seeds), "
        f"PPO {ratio(rs[1])} (median of {seeds[1]}); "
        + ", ".join(f"{name} {sb3_summary(d)[0]}/{sb3_summary(d)[1]} solved" for name, d in zip(("DQN", "PPO"), speed)),
        f"<= 0.35: DQN {verdict(rs[0] <= 0.35)}, PPO {verdict(rs[1] <= 0.35)}",
        "algorithms_vs_sb3.py --task ppo --seeds 2 --libraries ours,sb3-same --write update-speed` (and `--task dqn",
        speed[1])
    plugin = results("ecs-plugin")
    f = plugin_figures(plugin)
    t = plugin["training"]
    row(f"plugin overhead, 64 CartPole entities, random policy: ECS {ratio(f['overhead'])} the plain loop",
        f">= 0.8: {verdict(f['overhead'] >= 0.8)}", "ecs_plugin.py --only overhead", plugin)
    row(f"batching: decide cost per agent-step, 256 entities vs 1: 1/{1 / f['batching']:.0f}",
        f"<= 1/20: {verdict(f['batching'] <= 1 / 20)}", "ecs_plugin.py --only batching", plugin)
    row(f"DQN through the ECS vs the plain loop, 1 entity, same seed: episode rewards "
        f"{'identical' if t['identical'] else 'differ'} ({t['episodes']} episodes); {ratio(f['training'])} throughput",
        f"identical; >= 0.95: {verdict(t['identical'] and f['training'] >= 0.95)}", "ecs_plugin.py --only training",
        plugin)
    row(f"Hunt, 256 agents (128 prey, 96 predators, 32 scripted hawks), deaths and respawns: "
        f"{f['hunt_random']:.0f} ticks/s with random teams; {f['hunt_learning']:.1f} with both teams learning",
        "tracked (real time: a later issue)", "ecs_plugin.py --only hunt", plugin)
    for render, what, script in (
            (inference_row, "a shipped policy per decision", "inference_speed.py"),
            (swarm_row, "Foragers, 256 agents, one shared policy", "foragers_swarm.py"),
            (dashboard_row, "dashboard page open while a run trains", "dashboard_load.py"),
            (distributed_row, "Foragers in Ray workers", "distributed_throughput.py")):
        try:
            render(results, row)
        except Missing as exc:
            rows.append(missing_row(what, script, exc))
    return "\n".join(["| figure | target | command (`benchmarks/`) | date, load |", "|---|---|---|---|", *rows])


def inference_row(results: Results, row) -> None:
    inf = results("inference-speed")
    g = inference_figures(inf)["vs"]
    row(f"a shipped CartPole DQN policy per decision vs torch's `GreedyPolicy`: numpy {ratio(g['numpy (.npz)']['1'])} "
        f"at batch 1, {ratio(g['numpy (.npz)']['256'])} at 256; onnxruntime {ratio(g['onnxruntime (.onnx)']['1'])}, "
        f"{ratio(g['onnxruntime (.onnx)']['256'])}", f"numpy faster than torch at batch 1: "
        f"{verdict(g['numpy (.npz)']['1'] < 1)}", "inference_speed.py", inf)


def missing_row(what: str, script: str, exc: Missing) -> str:
    return f"| {what}: no results file yet ({exc.name}) | - | `{script} --write` | - |"


def swarm_row(results: Results, row) -> None:
    swarm = results("foragers-swarm")
    s = swarm_figures(swarm)
    parts = [f"{label} {s[k]['after']:.1f} ticks/s ({s[k]['x']:.1f}x before)"
             for k, label in (("random", "random"), ("dqn", "DQN"), ("ppo", "PPO")) if k in s]
    if "greedy" in s:
        gr = s["greedy"]
        parts.append(f"greedy DQN return per agent {gr['after']:.1f} vs {gr['before']:.1f} before and "
                     f"{gr['random']:.1f} for a random policy")
    fast = all(s[k]["after"] >= 60 for k in ("dqn", "ppo") if k in s)
    if "greedy" in s:
        gr = s["greedy"]
        better = verdict(gr["after"] >= gr["before"] and gr["after"] > gr["random"], "not shown")
    else:
        better = "not in this run (`--only learning`)"
    row(f"Foragers, 256 agents, one shared policy, 40 x 40 arena, against {swarm['before']}: " + "; ".join(parts),
        f">= 60 ticks/s for DQN and PPO: {verdict(fast, 'not shown at this load')}; return no worse than before and "
        f"above random: {better}", "foragers_swarm.py --write", swarm)


def dashboard_row(results: Results, row) -> None:
    dash = results("dashboard-load")
    d = dashboard_figures(dash)
    row(f"dashboard page open while a CartPole DQN run trains: steps/s {d['wall']:.3f}x, per CPU-second "
        f"{d['cpu']:.3f}x those with no page ({d['rounds']} round{'s' if d['rounds'] != 1 else ''}); server "
        f"{d['server']:.1%}, browser {d['browser']:.1%} of one core",
        f"no slowdown beyond 5%: {verdict(d['cpu'] >= 0.95, 'not shown')}", "dashboard_load.py", dash)


def distributed_row(results: Results, row) -> None:
    dist = results("distributed-throughput")
    x = distributed_figures(dist)
    if "env-bound" not in x:
        raise Missing("no env-bound throughput in it", "benchmarks/results/distributed-throughput.json")
    row(f"Foragers, 256 agents per world, DQN in 2 Ray workers vs one process: "
        + ", ".join(f"{mode} {ratio(x[mode]['2 workers'][1])}" for mode in MODES if mode in x),
        f"1.6x env-bound: {verdict(x['env-bound']['2 workers'][1] >= 1.6, 'not reached')}",
        "distributed_throughput.py --only throughput", dist)


# -- scripts/mutation.py ----------------------------------------------------------------------------

def region_mutation(results: Results) -> str:
    data = results("mutation")
    if "package" in data:  # scripts/mutation.py --package: a search for survivors, not the score to report
        raise Missing(f"a sample of {data['package']} only; the score is of a sample of every package",
                      "benchmarks/results/mutation.json")
    sc = data["scores"]
    names = {"ecs_rl.core": "core/", "ecs_rl.ecs": "ecs/", "ecs_rl.algorithms": "algorithms/"}
    o = sc["overall"]
    counted = o.get("killed", 0) + o.get("timeout", 0) + o.get("survived", 0)
    per = ", ".join(f"{label} {sc[p]['score']:.1f}%" for p, label in names.items() if sc[p]["score"] is not None)
    if "per_package" in data:  # stratified: as many mutants from each package, so the pooled score is re-weighted
        weights = data["mutants_by_package"]
        overall = sum(sc[p]["score"] * weights[p] for p in names) / sum(weights[p] for p in names)
        drawn = (f"a stratified sample of {data['per_package']} mutants from each package, {data['sample']} of the "
                 f"{n(data['mutants'])} (`bash scripts/mutation.sh --per-package {data['per_package']} --seed "
                 f"{data['seed']} --write benchmarks/results/mutation.json`)")
        said = (f"**{overall:.1f}%** overall, the package scores weighted by their numbers of mutants ("
                f"{per}; {o['score']:.1f}% of the {counted} pooled)")
    else:
        drawn = (f"a sample of {data['sample']} of the {n(data['mutants'])} mutants (`bash scripts/mutation.sh "
                 f"--sample {data['sample']} --seed {data['seed']} --write benchmarks/results/mutation.json`)")
        said = f"**{o['score']:.1f}%** of {counted} ({per})"
    return (f"Last run, {data['date']}, seed {data['seed']}, {drawn}, tried with the tests as they were "
            f"before any were written against this sample's survivors: {said}; "
            f"{o.get('timeout', 0)} killed by a timeout, {o.get('survived', 0)} survived, "
            f"{o.get('equivalent', 0)} equivalent left out, {o.get('not tried', 0)} not tried. "
            f"The aim, >= 90% on each package: {verdict(all(sc[p]['score'] is not None and sc[p]['score'] >= 90 for p in names))}."
            + mutation_history(results, names))


def mutation_history(results: Results, names: dict[str, str]) -> str:
    """The earlier samples kept in ``benchmarks/results/mutation/`` (each one's file as ``--write`` wrote it)."""
    folder = results.root / RESULTS / "mutation"
    runs = sorted((results(f"mutation/{p.stem}") for p in folder.glob("*.json")), key=lambda d: d["seed"])
    if not runs:
        return ""
    said = []
    for d in runs:
        sc, o = d["scores"], d["scores"]["overall"]
        tried = o.get("killed", 0) + o.get("timeout", 0) + o.get("survived", 0) + o.get("equivalent", 0)
        per = ", ".join(f"{label} {sc[p]['score']:.1f}%" for p, label in names.items()
                        if p in sc and sc[p]["score"] is not None)
        if "package" in d:
            said.append(f"seed {d['seed']}, {names[d['package']]} only (a search for survivors), {tried} of "
                        f"{d['sample']} tried: {o['score']:.1f}%, {o.get('survived', 0)} survived")
        else:
            said.append(f"seed {d['seed']}, {tried} of {d['sample']} tried"
                        + (f" ({d['per_package']} from each package)" if "per_package" in d else "")
                        + f": {o['score']:.1f}% ({per}), "
                        f"{o.get('survived', 0)} survived")
    return ("\n\nEarlier samples, each drawn after the tests written against the survivors of the ones before it "
            "(files in `benchmarks/results/mutation/`): " + "; ".join(said) + ".")


REGIONS = {
    "main-job": region_main_job,
    "foragers-demo": region_foragers_demo,
    "reward-plots": region_reward_plots,
    "hunt-demo": region_hunt_demo,
    "catch-demo": region_catch_demo,
    "maze-masks": region_maze_masks,
    "checkpoint-size": region_checkpoint_size,
    "selfplay-ratings": region_selfplay_ratings,
    "selfplay-head-to-head": region_selfplay_head_to_head,
    "selfplay-head-to-head-table": region_selfplay_head_to_head_table,
    "inference": region_readme_inference,
    "distributed": region_distributed,
    "benchmarks": region_benchmarks,
    "dqn-final": region_dqn_final,
    "sb3-dqn": region_sb3("dqn"),
    "sb3-ppo": region_sb3("ppo"),
    "sb3-ppo-pendulum": region_sb3("ppo-pendulum"),
    "sb3-dqn-seeds5-9": region_dqn_seeds,
    "update-speed": region_update_speed,
    "ecs-plugin": region_ecs_plugin,
    "foragers-swarm": region_swarm,
    "dashboard-load": region_dashboard,
    "inference-speed": region_inference_speed,
    "inference-blas0": region_inference_blas,
    "mutation": region_mutation,
}


# -- the files ---------------------------------------------------------------------------------------

def render_file(text: str, where: str, results: Results, problems: list[str]) -> tuple[str, list[str]]:
    """``text`` with every region re-rendered; the names of the regions that differed."""
    differ = []

    def sub(match: re.Match) -> str:
        name = match.group(2)
        if name not in REGIONS:
            problems.append(f"{where}: region '{name}' has no renderer (known: {', '.join(REGIONS)})")
            return match.group(0)
        try:
            body = REGIONS[name](results).rstrip("\n") + "\n"
        except Missing as exc:  # said in the region itself, so a file deleted later fails the check
            print(f"{where}: region '{name}': no {exc}", file=sys.stderr)
            body = f"No results yet: the benchmark writes `{exc.name}` when run with `--write`.\n"
        if body != match.group(3):
            differ.append(name)
        return match.group(1) + body + match.group(4)

    return REGION.sub(sub, text), differ


def run(root: Path, check: bool) -> int:
    results, problems, seen, status = Results(root), [], set(), 0
    for rel in (README, BENCH_README):
        path = root / rel
        text = path.read_text(encoding="utf-8")
        opened, closed = text.count("<!-- figures: "), text.count("<!-- /figures -->")
        if opened != closed or opened != len(REGION.findall(text)):
            problems.append(f"{rel}: {opened} '<!-- figures: NAME -->' markers and {closed} '<!-- /figures -->'")
            continue
        seen.update(m[1] for m in REGION.findall(text))
        new, differ = render_file(text, str(rel), results, problems)
        for name in differ:
            print(f"{rel}: region '{name}' differs from what its results render"
                  + (" (run python benchmarks/report.py)" if check else ": rewritten"), file=sys.stderr)
        if differ and check:
            status = 1
        elif differ:
            path.write_text(new, encoding="utf-8")
    problems += [f"region '{name}' is in neither {README} nor {BENCH_README}" for name in REGIONS if name not in seen]
    for p in problems:
        print(p, file=sys.stderr)
    return 2 if problems else status


# -- the plots ---------------------------------------------------------------------------------------

class RecordedRun:
    """A run as ``ecs_rl.plot.plot_runs`` reads one, from a results file's episodes and evaluations."""

    def __init__(self, name: str, run_id: str, episodes: list, evals: list):
        self.name, self.version, self.run_id = name, "dqn", run_id
        self.train_log_path = Path(f"{name}/{run_id}")
        self._episodes, self._evals = episodes, evals

    def read_train_episodes(self) -> list[dict]:
        return [{"step": s, "total_reward": r} for s, r in self._episodes]

    def read_eval_episodes(self) -> list[dict]:
        return [{"step": s, "total_reward": m} for s, m in self._evals]  # one row per evaluation: its mean


class RecordedTeam:
    """A self-play run as ``ecs_rl.plot.plot_ratings`` reads one, from ``selfplay-ratings.json``'s plotted seed."""

    def __init__(self, team: str, seed: int, data: dict):
        self.name, self.version, self.run_id = "hunt", team, f"seed{seed}"
        self.metadata = {"total_steps": data["steps"]}
        self._curve = data["curve"]
        self.index = {"policy": team, "current": data["current"],
                      "snapshots": [{"step": s, "rating": r} for s, r in data["all_snapshots"]]}

    def read_train_episodes(self) -> list[dict]:
        return [{"step": s, "extras": {"rating": r}} for s, r in self._curve]


def plots(root: Path) -> list[Path]:
    from ecs_rl.plot import plot_ratings, plot_runs

    results = Results(root)
    cart, forage, selfplay = results("cartpole-seeds"), results("foragers-demo"), results("selfplay-ratings")
    runs = [RecordedRun("cartpole", f"seed{r['seed']}", r["episodes"], r["evals"]) for r in cart["runs"]]
    one = forage["run"]
    plotted = next(s for s in selfplay["seeds"] if s["seed"] == selfplay["plot_seed"])
    teams = [RecordedTeam(team, plotted["seed"], plotted["teams"][team]) for team in ("prey", "predator")]
    return [plot_runs(runs, root / "assets" / "cartpole_reward.png"),
            plot_runs([RecordedRun("foragers", f"seed{one['seed']}", one["episodes"], one["evals"])],
                      root / "assets" / "foragers_reward.png"),
            plot_ratings(teams, root / "assets" / "selfplay-ratings.png", [t.index for t in teams])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a region differs")
    parser.add_argument("--plots", action="store_true", help="also redraw the plots in assets/")
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to read and write (default: this one)")
    args = parser.parse_args(argv)
    for rel in (README, BENCH_README):
        if not (args.root / rel).is_file():
            print(f"report.py: --root {args.root}: no {rel} there", file=sys.stderr)
            return 2
    status = run(args.root, args.check)
    if args.plots and not args.check:
        try:
            for path in plots(args.root):
                print(f"drew {path}", file=sys.stderr)
        except Missing as exc:
            print(f"--plots needs {exc}", file=sys.stderr)
            return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
