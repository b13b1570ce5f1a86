"""Self-play ratings at the end of `ecs-rl train hunt --self-play` (default budgets), seeds 0-3.

    python benchmarks/selfplay_ratings.py --root runs-selfplay           # ~6-10 min of CPU per seed
    python benchmarks/selfplay_ratings.py --root runs-selfplay --write   # and write results/selfplay-ratings.json

Each seed is the real command in its own subprocess (``ecs-rl train hunt --self-play --seed S --root
<root>/seed-S``); a seed whose two runs are already there and finished (both teams at their budgets, no lock
held) is read as it is, so an interrupted measurement goes on where it stopped. The figures are read back
from the runs: each team's snapshot index (first snapshot, latest snapshot and current policy, with their
final ratings) and the time from the runs' start to their last update. For the plotted seed (``--plot-seed``,
0) the results keep what ``ecs-rl plot --ratings`` draws (the current rating at each episode end, every
snapshot), so ``benchmarks/report.py --plots`` redraws ``assets/selfplay-ratings.png`` from them. Without
``--root`` the runs go to a temporary directory, removed afterwards.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import add_write_option, check_folder, load_average, meta, write

TEAMS = ("predator", "prey")


def finished(root: Path) -> dict[str, Path] | None:
    """The seed's two runs under ``root`` if both are there, at their budgets and not locked; else None."""
    runs = {}
    for team in TEAMS:
        found = sorted((root / "hunt" / team).glob("*/metadata.json"))
        if len(found) != 1 or (found[0].parent / ".lock").exists():
            return None
        run = found[0].parent
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
        if json.loads((run / "metadata.json").read_text(encoding="utf-8"))["total_steps"] < config["steps"]:
            return None
        runs[team] = run
    return runs


def train(seed: int, root: Path) -> dict[str, Path]:
    """Run ``ecs-rl train hunt --self-play --seed <seed> --root <root>`` unless its runs are there already."""
    if (runs := finished(root)) is not None:
        print(f"seed {seed}: finished runs in {root}, read as they are", flush=True)
        return runs
    if root.exists():
        sys.exit(f"{root}: holds an unfinished or foreign hunt run; remove it to measure seed {seed} afresh")
    cmd = [sys.executable, "-m", "ecs_rl.cli", "train", "hunt", "--self-play", "--seed", str(seed), "--root", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[2:])} failed:\n{proc.stderr.strip()[-2000:]}")
    if (runs := finished(root)) is None:
        sys.exit(f"{' '.join(cmd[2:])}: its runs in {root} did not reach their budgets")
    return runs


def stamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def read(seed: int, runs: dict[str, Path], curves: bool) -> dict:
    """Each team's first snapshot, latest snapshot and current ratings; the runs' training time."""
    out: dict = {"seed": seed, "teams": {}}
    started, ended = [], []
    for team, run in runs.items():
        metadata = json.loads((run / "metadata.json").read_text(encoding="utf-8"))
        index = json.loads((run / "snapshots" / "index.json").read_text(encoding="utf-8"))
        snaps = index["snapshots"]
        started.append(stamp(metadata["started"]))
        ended.append(stamp(metadata["last_updated"]))
        team_out = {"steps": metadata["total_steps"], "episodes": metadata["total_episodes"],
                    "results": index["results"], "current": index["current"],
                    "first": snaps[0], "latest": snaps[-1], "snapshots": len(snaps)}
        if curves:
            rows = [json.loads(line) for line in (run / "train_episodes.jsonl").read_text().splitlines() if line]
            team_out["curve"] = [[r["step"], round(r["extras"]["rating"], 1)] for r in rows
                                 if (r.get("extras") or {}).get("rating") is not None]
            team_out["all_snapshots"] = [[s["step"], round(s["rating"], 1)] for s in snaps]
        out["teams"][team] = team_out
    out["seconds"] = round((max(ended) - min(started)).total_seconds())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=4, help="seeds 0..N-1 (default: %(default)s)")
    parser.add_argument("--root", type=Path, help="keep the runs here, <root>/seed-S (default: a temporary directory)")
    parser.add_argument("--plot-seed", type=int, default=0, help="the seed whose curves are kept for the plot")
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    if args.seeds < 1 or not 0 <= args.plot_seed < args.seeds:
        parser.error(f"--seeds {args.seeds} --plot-seed {args.plot_seed}: need seeds >= 1 and 0 <= plot seed < seeds")
    load, seeds = load_average(), []
    with tempfile.TemporaryDirectory(prefix="ecs-rl-selfplay-") as tmp:
        root = args.root if args.root is not None else Path(tmp)
        for seed in range(args.seeds):
            started = time.perf_counter()
            r = read(seed, train(seed, root / f"seed-{seed}"), curves=seed == args.plot_seed)
            print(f"seed {seed} ({r['seconds']} s of training, {time.perf_counter() - started:.0f} s here): "
                  + "; ".join(f"{team} first {t['first']['rating']:.0f} / latest {t['latest']['rating']:.0f} / "
                              f"current {t['current']['rating']:.0f}" for team, t in r["teams"].items()), flush=True)
            seeds.append(r)
    write("selfplay-ratings", {"meta": meta(load), "command": "ecs-rl train hunt --self-play --seed S",
                               "plot_seed": args.plot_seed, "seeds": seeds}, args.write)


if __name__ == "__main__":
    main()
