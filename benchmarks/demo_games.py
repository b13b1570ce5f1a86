"""The demo games' own figures: the main job on CartPole seeds 0-4, and the default Foragers run.

    python benchmarks/demo_games.py                    # both, ~3-6 min on 2 cores
    python benchmarks/demo_games.py --only cartpole    # `ecs-rl train cartpole --seed S` for S in 0-4
    python benchmarks/demo_games.py --only foragers    # `ecs-rl train foragers`, then its greedy eval vs random
    python benchmarks/demo_games.py --only hunt        # `ecs-rl train hunt`, then `ecs-rl eval runs/hunt --baseline`
    python benchmarks/demo_games.py --write    # and write results/cartpole-seeds.json, foragers-demo.json, hunt-demo.json

Each run is the real command in its own subprocess (``ecs-rl train <game> --seed S --root <temporary dir>``);
the figures are read back from what it printed (``solved at step N in X s``) and from its run directory (every
training episode's step and reward, every greedy evaluation's mean), so README's solve steps and its reward
plots (``benchmarks/report.py --plots``) come from the same runs. Foragers' trained policy (its ``best.pt``)
is then scored greedily against a random policy on the same held-out episodes, as ``ecs-rl eval runs/foragers
--baseline`` does. Hunt's two teams are scored by ``ecs-rl eval runs/hunt --baseline`` itself (its table read back).
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
    parser.add_argument("--only", choices=["cartpole", "foragers", "hunt"])
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


if __name__ == "__main__":
    main()
