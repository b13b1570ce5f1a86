"""Self-play ratings at the end of `ecs-rl train hunt --self-play` (default budgets), seeds 0-3.

    python benchmarks/selfplay_ratings.py --root runs-selfplay           # ~1.5-7 min per seed on 2 cores
    python benchmarks/selfplay_ratings.py --root runs-selfplay --write   # and write results/selfplay-ratings.json
    python benchmarks/selfplay_head_to_head.py runs-selfplay/seed-0/hunt/prey/<run> \
        runs-selfplay/seed-0/hunt/predator/<run> --write                 # then seed 0's snapshots head to head

Each seed is the real command in its own subprocess (``ecs-rl train hunt --self-play --seed S --root
<root>/seed-S``, a directory that must not exist yet). The figures are read back from its output (its
wall time and the training time it prints) and from its two runs: each team's snapshot index (first
snapshot, latest snapshot and current policy, with their final ratings). For the plotted seed
(``--plot-seed``, 0) the results keep what ``ecs-rl plot --ratings`` draws (the current rating at each
episode end, every snapshot's final rating), so ``benchmarks/report.py --plots`` redraws
``assets/selfplay-ratings.png`` from them. Without ``--root`` the runs go to a temporary directory,
removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import add_write_option, check_folder, load_average, meta, write

TEAMS = ("predator", "prey")


def train(seed: int, root: Path) -> tuple[dict[str, Path], float, float]:
    """Run ``ecs-rl train hunt --self-play --seed <seed> --root <root>``: its two runs, wall and training seconds."""
    cmd = [sys.executable, "-m", "ecs_rl.cli", "train", "hunt", "--self-play", "--seed", str(seed), "--root", str(root)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[2:])} failed:\n{proc.stderr.strip()[-2000:]}")
    runs = {team: Path(path.strip()) for team, path in re.findall(r"^(\w+) run: (.+)$", proc.stdout, re.M)}
    trained = re.search(r"^trained .* in ([\d.]+)s$", proc.stdout, re.M)
    if set(runs) != set(TEAMS) or trained is None:
        sys.exit(f"{' '.join(cmd[2:])}: no '<team> run:' lines or no training time in its output:\n{proc.stdout[-2000:]}")
    return runs, wall, float(trained.group(1))


def read(seed: int, runs: dict[str, Path], curves: bool) -> dict:
    """Each team's first snapshot, latest snapshot and current ratings (and with ``curves`` what the plot needs)."""
    out: dict = {"seed": seed, "teams": {}}
    for team in TEAMS:
        run = runs[team]
        metadata = json.loads((run / "metadata.json").read_text(encoding="utf-8"))
        index = json.loads((run / "snapshots" / "index.json").read_text(encoding="utf-8"))
        snaps = index["snapshots"]
        team_out = {"steps": metadata["total_steps"], "episodes": metadata["total_episodes"],
                    "results": index["results"], "current": index["current"],
                    "first": snaps[0], "latest": snaps[-1], "snapshots": len(snaps)}
        if curves:
            rows = [json.loads(line) for line in (run / "train_episodes.jsonl").read_text().splitlines() if line]
            team_out["curve"] = [[r["step"], round(r["extras"]["rating"], 1)] for r in rows
                                 if (r.get("extras") or {}).get("rating") is not None]
            team_out["all_snapshots"] = [[s["step"], round(s["rating"], 1)] for s in snaps]
        out["teams"][team] = team_out
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
        taken = [f"seed-{seed}" for seed in range(args.seeds) if (root / f"seed-{seed}").exists()]
        if taken:
            parser.error(f"--root {root}: {', '.join(taken)} there already (each seed needs a fresh directory)")
        for seed in range(args.seeds):
            runs, wall, trained = train(seed, root / f"seed-{seed}")
            r = {**read(seed, runs, curves=seed == args.plot_seed), "wall_seconds": round(wall, 1),
                 "train_seconds": trained}
            print(f"seed {seed} ({trained:.0f} s of training, {wall:.0f} s the command): "
                  + "; ".join(f"{team} first {t['first']['rating']:.0f} / latest {t['latest']['rating']:.0f} / "
                              f"current {t['current']['rating']:.0f}" for team, t in r["teams"].items()), flush=True)
            seeds.append(r)
    write("selfplay-ratings", {"meta": meta(load), "command": "ecs-rl train hunt --self-play --seed S",
                               "plot_seed": args.plot_seed, "seeds": seeds}, args.write)


if __name__ == "__main__":
    main()
