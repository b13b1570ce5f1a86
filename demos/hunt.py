"""Hunt: prey and predators learn at the same time in one arena (two DQN sessions), scripted hawks among them.

    python demos/hunt.py [--ticks 6000] [--agents 24] [--seed 0] [--root runs] [--screenshot assets/hunt.png]

Trains both teams with the Python API (one TrainingSession and one TrainingRun per team), then measures each
team's greedy reward per agent per 100 ticks against a random team in its place, on the same seeds:
trained prey vs random prey (against the trained predators), trained predators vs random predators (against
the trained prey). The command line does the same with a run per team: ``ecs-rl train hunt``, then
``ecs-rl eval runs/hunt --baseline``.
"""

from __future__ import annotations

import argparse
import time

import esper

from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, configure_torch, presets
from ecs_rl.core.agent import RandomAgent
from ecs_rl.ecs import Evaluation, step_world
from ecs_rl.worlds import hunt

EVAL_SEEDS = (20_000, 20_001, 20_002, 20_003)


def train(ticks: int, agents: int, seed: int, root: str | None) -> tuple[TrainingSession, TrainingSession, float]:
    sizes = hunt.team_sizes(agents)
    prey_steps = ticks * sizes["prey"]  # the decisions each team will make in ``ticks`` ticks (about)
    predator_steps = ticks * sizes["predator"] // hunt.PREDATOR_PERIOD
    sessions = {}
    for team, space, config in [
        ("prey", hunt.prey_observation_space, presets.hunt_prey_dqn(seed, total_steps=prey_steps)),
        ("predator", hunt.predator_observation_space, presets.hunt_predator_dqn(seed + 1, total_steps=predator_steps)),
    ]:
        session = TrainingSession(DqnAgent(space, hunt.action_space, config))
        if root is not None:
            session = session.with_run(TrainingRun.create("hunt", team, root=root))
        sessions[team] = session
    hunt.build(agents, seed)
    # every 20 000 steps of a team: one greedy episode for each of 16 of its agents in a world of its own
    # (42 agents; those still running after 2 000 ticks count as truncated): logged, the best saved as best.pt
    evaluation = Evaluation(hunt.factory(), every=20_000, episodes=16, max_ticks=2_000)
    plugin = hunt.install_hunt(sessions, evaluation=evaluation)
    start = time.perf_counter()
    with sessions["prey"], sessions["predator"]:  # closing saves latest.pt and the metadata of each run
        step_world(ticks, plugin=plugin)
    elapsed = time.perf_counter() - start
    for result in plugin.eval_history:
        print(f"evaluation at {result.step} {result.policy} steps: mean episode reward {result.mean_reward:+.2f} "
              f"over {len(result.records)} episodes ({result.unfinished} unfinished)")
    return sessions["prey"], sessions["predator"], elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=6_000)
    parser.add_argument("--agents", type=int, default=24, help="agents of all three teams together")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default="runs", help="where the two runs go ('' for none)")
    parser.add_argument("--screenshot", help="save a picture of the trained teams (PNG)")
    args = parser.parse_args(argv)
    configure_torch()  # one torch thread and flush-denormal: the fastest for these small networks

    prey, predator, elapsed = train(args.ticks, args.agents, args.seed, args.root or None)
    counts = esper.get_component(hunt.Hunt)[0][1].counts
    print(f"trained {args.ticks} ticks with {args.agents} agents {hunt.team_sizes(args.agents)} in {elapsed:.1f} s: "
          f"prey {prey.total_steps} steps / {prey.total_episodes} episodes, "
          f"predators {predator.total_steps} steps / {predator.total_episodes} episodes")
    print(f"training world: {counts}")
    for session, team in [(prey, "prey"), (predator, "predator")]:
        if session.run is not None:
            print(f"{team} run: {session.run.path}")

    trained = {"prey": prey.agent.to_policy(), "predator": predator.agent.to_policy()}
    randoms = {"prey": RandomAgent(hunt.action_space, seed=1), "predator": RandomAgent(hunt.action_space, seed=2)}
    both = hunt.score(trained, args.agents, EVAL_SEEDS)
    print(f"\ngreedy reward per agent per 100 ticks, {len(EVAL_SEEDS)} worlds x 1000 ticks, same seeds:")
    for team, other in [("prey", "predator"), ("predator", "prey")]:
        baseline = hunt.score({team: randoms[team], other: trained[other]}, args.agents, EVAL_SEEDS)
        print(f"  {team:9s} trained {both[team]:+.2f}   random {baseline[team]:+.2f}   "
              f"(against trained {other}, and the hawks)")
    if args.screenshot:
        screenshot(trained, args.agents, args.seed, args.screenshot)


def screenshot(policies: dict, agents: int, seed: int, path: str, ticks: int = 200) -> None:
    """The trained teams after ``ticks`` ticks of greedy play, drawn off-screen (works headless)."""
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from ecs_rl.render import hunt as hunt_draw

    previous = esper.current_world
    esper.switch_world("hunt-screenshot")
    try:
        hunt.build(agents, seed)
        step_world(ticks, plugin=hunt.install_hunt(policies))
        pygame.display.init()
        pygame.font.init()
        screen = pygame.display.set_mode((640, 640))
        hunt_draw.draw_world(screen)
        pygame.image.save(screen, path)
        pygame.display.quit()
        print(f"screenshot: {path}")
    finally:
        esper.switch_world(previous)
        esper.delete_world("hunt-screenshot")


if __name__ == "__main__":
    main()
