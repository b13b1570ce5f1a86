"""The demo games' own figures: the main job on CartPole seeds 0-4, the default Foragers and Hunt runs, the
Catch tutorial's commands and the action-mask maze.

    python benchmarks/demo_games.py                    # both, ~3-6 min on 2 cores
    python benchmarks/demo_games.py --only cartpole    # `ecs-rl train cartpole --seed S` for S in 0-4
    python benchmarks/demo_games.py --only foragers    # `ecs-rl train foragers`, then its greedy eval vs random
    python benchmarks/demo_games.py --only hunt        # `ecs-rl train hunt`, then `ecs-rl eval runs/hunt --baseline`
    python benchmarks/demo_games.py --only catch       # `ecs-rl train demos/catch.py:make_game`, then its eval --baseline
    python benchmarks/demo_games.py --only maze        # `python demos/maze.py`: masked vs unmasked, PPO and DQN
    python benchmarks/demo_games.py --write    # and write results/cartpole-seeds.json, foragers-demo.json,
                                               # hunt-demo.json, catch-demo.json, maze-masks.json

Each run is the real command in its own subprocess (``ecs-rl train <game> --seed S --root <temporary dir>``);
the figures are read back from what it printed (``solved at step N in X s``) and from its run directory (every
training episode's step and reward, every greedy evaluation's mean), so README's solve steps and its reward
plots (``benchmarks/report.py --plots``) come from the same runs. Foragers' trained policy (its ``best.pt``)
is then scored greedily against a random policy on the same held-out episodes, as ``ecs-rl eval runs/foragers
--baseline`` does. Hunt's two teams are scored by ``ecs-rl eval runs/hunt --baseline`` itself (its table read back),
and so is Catch (``--episodes 30``). The maze's table is read back from what ``demos/maze.py`` prints.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import add_write_option, check_folder, load_average, meta, write

HELD_OUT_SEED = 10**9  # ecs-rl eval's default first seed
ROOT = Path(__file__).resolve().parents[1]


def train(game: str, seed: int, root: Path) -> dict:
    """Run ``ecs-rl train <game> --seed <seed>``; its solve step, training seconds and curves."""
    cmd = [sys.executable, "-m", "ecs_rl.cli", "train", game, "--seed", str(seed), "--root", str(root)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[2:])} failed:\n{proc.stderr.strip()[-2000:]}")
    solved = re.search(r"solved at step ([\d,]+) in ([\d.]+)s", proc.stdout)
    run = Path(re.search(r"^run: (.+)$", proc.stdout, re.M).group(1).strip())
    episodes = [json.loads(line) for line in (run / "train_episodes.jsonl").read_text().splitlines() if line]
    evals: dict[int, list[float]] = {}
    for line in (run / "eval_episodes.jsonl").read_text().splitlines():
        if line:
            row = json.loads(line)
            evals.setdefault(row["step"], []).append(row["total_reward"])
    metadata = json.loads((run / "metadata.json").read_text())
    return {"seed": seed, "solved_step": int(solved.group(1).replace(",", "")) if solved else None,
            "train_seconds": float(solved.group(2)) if solved else None, "wall_seconds": round(wall, 2),
            "steps": metadata["total_steps"], "run": str(run),
            "episodes": [[e["step"], e["total_reward"]] for e in episodes],
            "evals": [[step, statistics.mean(rewards)] for step, rewards in sorted(evals.items())]}


def hunt(root: Path) -> dict:
    """``ecs-rl train hunt`` (default budgets) and ``ecs-rl eval <root>/hunt --baseline``: each team's score."""
    cli = [sys.executable, "-m", "ecs_rl.cli"]
    started = time.perf_counter()
    proc = subprocess.run([*cli, "train", "hunt", "--root", str(root)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"ecs-rl train hunt failed:\n{proc.stderr.strip()[-2000:]}")
    steps = {p: int(k.replace(",", "")) for p, k in re.findall(r"(\w+) ([\d,]+) steps /", proc.stdout)}
    proc = subprocess.run([*cli, "eval", str(root / "hunt"), "--baseline"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ecs-rl eval hunt --baseline failed:\n{proc.stderr.strip()[-2000:]}")
    rows = re.findall(r"^(\w+)\s+([+-]\d+\.\d+)\s+([+-]\d+\.\d+)\s", proc.stdout, re.M)
    head = proc.stdout.splitlines()[0]
    return {"wall_seconds": round(wall, 2), "steps": steps, "eval_title": head,
            "trained": {p: float(t) for p, t, _ in rows}, "random": {p: float(r) for p, _, r in rows}}


def eval_tables(text: str) -> dict[str, dict[str, float]]:
    """The mean and std of each table ``ecs-rl eval --baseline`` printed: ``{"trained": ..., "random": ...}``."""
    means = [float(x) for x in re.findall(r"^mean_reward\s+(\S+)$", text, re.M)]
    stds = [float(x) for x in re.findall(r"^std_reward\s+(\S+)$", text, re.M)]
    episodes = [int(x.replace(",", "")) for x in re.findall(r"^episodes \(report\)\s+(\S+)$", text, re.M)]
    if len(means) != 2 or len(stds) != 2:
        sys.exit(f"ecs-rl eval --baseline: expected two tables (trained, random), got:\n{text[-2000:]}")
    return {who: {"mean": m, "std": sd, "episodes": k}
            for who, m, sd, k in zip(("trained", "random"), means, stds, episodes)}


def catch(root: Path) -> dict:
    """The Catch tutorial's commands: ``ecs-rl train demos/catch.py:make_game``, then ``ecs-rl eval
    runs/catch --baseline --episodes 30``."""
    cli = [sys.executable, "-m", "ecs_rl.cli"]
    started = time.perf_counter()
    proc = subprocess.run([*cli, "train", f"{ROOT / 'demos' / 'catch.py'}:make_game", "--root", str(root)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"ecs-rl train demos/catch.py:make_game failed:\n{proc.stderr.strip()[-2000:]}")
    solved = re.search(r"solved at step ([\d,]+) in ([\d.]+)s", proc.stdout)
    evals = re.search(r"^greedy evaluations \(step: mean reward\): (.+)$", proc.stdout, re.M)
    if solved is None or evals is None:
        sys.exit(f"ecs-rl train demos/catch.py:make_game: not solved, or no evaluations:\n{proc.stdout[-2000:]}")
    evals = [[int(step.replace(",", "")), float(mean)] for step, mean in re.findall(r"([\d,]+): ([-\d.]+)", evals.group(1))]
    proc = subprocess.run([*cli, "eval", str(root / "catch"), "--baseline", "--episodes", "30"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ecs-rl eval runs/catch --baseline failed:\n{proc.stderr.strip()[-2000:]}")
    return {"solved_step": int(solved.group(1).replace(",", "")), "train_seconds": float(solved.group(2)),
            "wall_seconds": round(wall, 2), "evals": evals, "eval": eval_tables(proc.stdout)}


MAZE_ROW = re.compile(r"^(ppo|dqn)\s+(\d+)\s+([-+][\d.]+) / ([-+][\d.]+)\s+([-+][\d.]+) / ([-+][\d.]+)\s+(\d+)\s+([\d.]+)$",
                      re.M)


def maze(options: list[str] = ()) -> dict:
    """``python demos/maze.py [options]``: each learner and seed, masked and unmasked, and the shortest paths' score."""
    proc = subprocess.run([sys.executable, str(ROOT / "demos" / "maze.py"), *options], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"python demos/maze.py failed:\n{proc.stderr.strip()[-2000:]}")
    best = re.search(r"^shortest paths: ([-+][\d.]+) \(the mean of (\d+) evaluations\)$", proc.stdout, re.M)
    rows = [{"algo": a, "seed": int(s), "masked": [float(mm), float(ml)], "unmasked": [float(um), float(ul)],
             "bumps": int(b), "seconds": float(t)} for a, s, mm, ml, um, ul, b, t in MAZE_ROW.findall(proc.stdout)]
    if best is None or not rows:
        sys.exit(f"python demos/maze.py: its table or its shortest-path line is missing:\n{proc.stdout[-2000:]}")
    return {"rows": rows, "shortest_paths": float(best.group(1)), "evaluations": int(best.group(2))}


def score_foragers(run: Path) -> dict:
    """The run's best.pt greedy and a random policy on the same held-out episodes (``ecs-rl eval --baseline``)."""
    from ecs_rl import evaluate
    from ecs_rl.algorithms import GreedyPolicy
    from ecs_rl.worlds import foragers

    game = foragers.make_game()
    policy = GreedyPolicy.load(run / "checkpoints" / "best.pt")
    return {name: [r.total_reward for r in evaluate(game, who, game.eval_episodes, seed=HELD_OUT_SEED).records]
            for name, who in (("trained", policy), ("random", "random"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["cartpole", "foragers", "hunt", "catch", "maze"])
    parser.add_argument("--seeds", type=int, default=5, help="CartPole seeds 0..N-1 (default: %(default)s)")
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    with tempfile.TemporaryDirectory(prefix="ecs-rl-demo-") as tmp:
        if args.only in (None, "cartpole"):
            load = load_average()
            runs = []
            for seed in range(args.seeds):
                r = train("cartpole", seed, Path(tmp) / "runs")
                runs.append(r)
                print(f"cartpole seed {seed}: solved at step {r['solved_step']} in {r['train_seconds']} s of training "
                      f"({len(r['episodes'])} episodes, evaluations {[round(m) for _, m in r['evals']]})", flush=True)
            for r in runs:
                del r["run"]
            write("cartpole-seeds", {"meta": meta(load), "command": "ecs-rl train cartpole --seed S", "runs": runs},
                  args.write)
        if args.only in (None, "foragers"):
            load = load_average()
            r = train("foragers", 0, Path(tmp) / "runs")
            scores = score_foragers(Path(r.pop("run")))
            print(f"foragers: {r['steps']:,} steps in {r['wall_seconds']:.0f} s (the command's wall time); greedy "
                  f"{statistics.mean(scores['trained']):.1f} (std {statistics.pstdev(scores['trained']):.1f}) vs random "
                  f"{statistics.mean(scores['random']):.1f} (std {statistics.pstdev(scores['random']):.1f}) over "
                  f"{len(scores['trained'])} held-out episodes", flush=True)
            write("foragers-demo", {"meta": meta(load), "command": "ecs-rl train foragers", "run": r,
                                    "eval_seed": HELD_OUT_SEED, "eval": scores}, args.write)
        if args.only in (None, "hunt"):
            load = load_average()
            h = hunt(Path(tmp) / "hunt-runs")
            print(f"hunt: {h['steps']} in {h['wall_seconds']:.0f} s; trained {h['trained']}, random {h['random']}",
                  flush=True)
            write("hunt-demo", {"meta": meta(load), "command": "ecs-rl train hunt; ecs-rl eval runs/hunt --baseline",
                                **h}, args.write)
        if args.only in (None, "catch"):
            load = load_average()
            c = catch(Path(tmp) / "catch-runs")
            e = c["eval"]
            print(f"catch: solved at step {c['solved_step']} in {c['train_seconds']} s of training; greedy "
                  f"{e['trained']['mean']:.2f} +- {e['trained']['std']:.2f} vs random {e['random']['mean']:.2f} +- "
                  f"{e['random']['std']:.2f} ({e['trained']['episodes']} episodes)", flush=True)
            write("catch-demo", {"meta": meta(load), "command": "ecs-rl train demos/catch.py:make_game; "
                                 "ecs-rl eval runs/catch --baseline --episodes 30", **c}, args.write)
        if args.only in (None, "maze"):
            load = load_average()
            m = maze()
            for r in m["rows"]:
                print(f"maze {r['algo']} seed {r['seed']}: masked {r['masked']}, unmasked {r['unmasked']}, "
                      f"{r['bumps']} bumps", flush=True)
            print(f"maze: shortest paths {m['shortest_paths']:+.3f}", flush=True)
            write("maze-masks", {"meta": meta(load), "command": "python demos/maze.py", **m}, args.write)


if __name__ == "__main__":
    main()
