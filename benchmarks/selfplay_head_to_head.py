"""Self-play snapshots of a Hunt run, head to head: do later snapshots really play better than the first?

Elo ratings from self-play drift (each team's ratings move with the other team's progress, and a snapshot
that stops being drawn keeps its rating), so this checks them directly: greedy prey snapshots (first,
middle, latest) against greedy predator snapshots (first, latest) in fresh 24-agent worlds of 1 000 ticks,
counting the results the world reports (a catch: the predator wins; an escape: the prey wins).

    .venv/bin/python -m ecs_rl.cli train hunt --self-play --root runs-selfplay
    .venv/bin/python benchmarks/selfplay_head_to_head.py runs-selfplay/hunt/prey/<run> runs-selfplay/hunt/predator/<run>
"""

from __future__ import annotations

import argparse
import itertools

import esper

from ecs_rl.algorithms import GreedyPolicy, configure_torch
from ecs_rl.core.run import TrainingRun
from ecs_rl.ecs import MATCH_RESULT, step_world
from ecs_rl.selfplay import SNAPSHOTS_DIR, read_index
from ecs_rl.worlds import hunt
from results_file import add_write_option, check_folder, load_average, meta, write

_worlds = itertools.count()


class Tally:
    def __init__(self) -> None:
        self.kinds = {"catch": 0, "escape": 0}

    def __call__(self, result) -> None:
        self.kinds[result.kind] += 1


def play(prey, predator, seeds, ticks: int) -> dict[str, int]:
    tally = Tally()
    for seed in seeds:
        name = f"head-to-head-{next(_worlds)}"
        esper.switch_world(name)
        hunt.build(24, seed)
        plugin = hunt.install_hunt({"prey": prey, "predator": predator})
        esper.set_handler(MATCH_RESULT, tally)
        step_world(ticks, plugin=plugin)
        esper.remove_handler(MATCH_RESULT, tally)
        esper.switch_world("default")
        esper.delete_world(name)
    return tally.kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prey_run")
    parser.add_argument("predator_run")
    parser.add_argument("--worlds", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=1_000)
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load, games = load_average(), []
    configure_torch()
    snapshots, seeds_trained = {}, {}
    for team, path in (("prey", args.prey_run), ("predator", args.predator_run)):
        run = TrainingRun.resume(path)
        seeds_trained[team] = run.read_config().get("seed")
        index = read_index(run)
        snaps = index["snapshots"]
        picks = [snaps[0], snaps[len(snaps) // 2], snaps[-1]] if team == "prey" else [snaps[0], snaps[-1]]
        snapshots[team] = [(s, GreedyPolicy.load(run.path / SNAPSHOTS_DIR / s["file"])) for s in picks]
    seeds = range(10_000, 10_000 + args.worlds)
    print(f"{'prey snapshot (rating)':<26} {'predator snapshot (rating)':<30} {'catches':>8} {'escapes':>8} "
          f"{'prey share':>10}")
    for (ps, prey), (qs, predator) in itertools.product(snapshots["prey"], snapshots["predator"]):
        kinds = play(prey, predator, seeds, args.ticks)
        share = kinds["escape"] / max(1, kinds["catch"] + kinds["escape"])
        print(f"{ps['file'][:-3] + ' (' + format(ps['rating'], '.0f') + ')':<26} "
              f"{qs['file'][:-3] + ' (' + format(qs['rating'], '.0f') + ')':<30} "
              f"{kinds['catch']:>8} {kinds['escape']:>8} {share:>10.2f}")
        games.append({"prey": ps["file"][:-3], "prey_rating": ps["rating"], "predator": qs["file"][:-3],
                      "predator_rating": qs["rating"], "catches": kinds["catch"], "escapes": kinds["escape"]})
    write("selfplay-head-to-head", {"meta": meta(load), "seed": seeds_trained["prey"], "trained_seeds": seeds_trained,
                                    "worlds": args.worlds, "ticks": args.ticks, "games": games},
          args.write)


if __name__ == "__main__":
    main()
