"""What the esper plugin costs, measured side by side in one run (ratios; absolute times are noise here).

    python benchmarks/ecs_plugin.py            # all four, ~3 min
    python benchmarks/ecs_plugin.py --quick    # smaller budgets
    python benchmarks/ecs_plugin.py --only hunt
    python benchmarks/ecs_plugin.py --write    # and write benchmarks/results/ecs-plugin.json

1. overhead   random policy on 64 CartPole entities: ECS world (plugin + physics processor) vs a plain
              Python loop calling the same physics functions and the same session methods.
              Target: ECS throughput >= 0.8x the plain loop.
2. batching   256 agent entities sharing one torch policy (DQN): the decide processor's cost per
              agent-step vs with a single entity. Target: <= 1/20.
3. training   DQN on ECS CartPole (1 entity) vs the plain Gymnasium loop of benchmarks/algorithms_vs_sb3.py,
              same seed: episode rewards must be identical; target throughput >= 0.95x.
4. hunt       the two-team game with 256 agents (128 prey, 96 predators, 32 scripted hawks), deaths and
              respawns included: ticks per second with random teams, and with both teams learning (DQN
              presets). A figure to track (real time at 60 Hz is the goal of a later issue), no target yet.

Each comparison alternates the two sides several times and reports the median ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import esper
import gymnasium as gym
import numpy as np
from results_file import add_write_option, check_folder, load_average, meta, write

from ecs_rl import ActMode, EpisodeStatus, Experience, Last, RandomAgent, TrainingSession
from ecs_rl.algorithms import DqnAgent, configure_torch, presets
from ecs_rl.adapters.gym_loop import train
from ecs_rl.ecs import install, step_world
from ecs_rl.worlds import cartpole as cp
from ecs_rl.worlds import hunt

_worlds = iter(range(10**6))


def fresh_world() -> str:
    name = f"bench-{next(_worlds)}"
    esper.switch_world(name)
    return name


def drop_world(name: str) -> None:
    esper.switch_world("default")
    esper.delete_world(name)


# -- 1. overhead ------------------------------------------------------------------------------------

def ecs_random(n: int, ticks: int) -> float:
    world = fresh_world()
    session = TrainingSession(RandomAgent(cp.action_space, seed=0))
    cp.build(n, seed=0)
    install({"cartpole": session}, reset=cp.reset)
    started = time.perf_counter()
    step_world(ticks)
    elapsed = time.perf_counter() - started
    drop_world(world)
    return n * ticks / elapsed


def plain_random(n: int, ticks: int) -> float:
    """The same physics and session calls as the ECS world, in a hand-written loop."""
    session = TrainingSession(RandomAgent(cp.action_space, seed=0))
    rngs = [np.random.default_rng(i) for i in range(n)]
    states = [list(cp.initial_state(r)) for r in rngs]
    steps = [0] * n
    returns = [0.0] * n
    obs = np.stack([np.array(s, dtype=np.float32) for s in states])
    ids = list(range(n))
    started = time.perf_counter()
    for _ in range(ticks):
        actions = session.act_batch(obs, ActMode.EXPLORE, ids)
        for i in range(n):
            s = states[i]
            s[0], s[1], s[2], s[3] = cp.physics_step(s[0], s[1], s[2], s[3], actions[i])
            steps[i] += 1
            returns[i] += 1.0
            next_obs = np.array(s, dtype=np.float32)
            status = EpisodeStatus.from_flags(cp.is_terminal(s[0], s[2]), steps[i] >= cp.MAX_EPISODE_STEPS)
            session.observe(Experience(obs[i], actions[i], 1.0, next_obs, status, i))
            if status.is_done:
                session.on_episode(returns[i], steps[i], status, agent_id=i)
                states[i] = s = list(cp.initial_state(rngs[i]))
                steps[i], returns[i] = 0, 0.0
                next_obs = np.array(s, dtype=np.float32)
            obs[i] = next_obs
    return n * ticks / (time.perf_counter() - started)


# -- 2. batching ------------------------------------------------------------------------------------

def decide_cost(n: int, ticks: int) -> float:
    """Seconds the decide processor spends per agent-step, DQN policy, n CartPole entities."""
    world = fresh_world()
    greedy = presets.cartpole_dqn(seed=0, learning_starts=10**9, epsilon_start=0.0, epsilon_end=0.0)
    agent = DqnAgent(cp.observation_space, cp.action_space, greedy)  # every decision runs the network
    session = TrainingSession(agent)
    cp.build(n, seed=0)
    plugin = install({"cartpole": session}, reset=cp.reset)
    processors = list(esper._processors)  # the world's processors, highest priority first
    spent = 0.0
    for _ in range(ticks):
        esper.clear_dead_entities()
        for proc in processors:
            if proc is plugin.decide:
                started = time.perf_counter()
                proc.process()
                spent += time.perf_counter() - started
            else:
                proc.process()
    drop_world(world)
    return spent / (n * ticks)


# -- 3. training ------------------------------------------------------------------------------------

def recorded_session(agent, steps: int):
    rewards: list[float] = []
    session = TrainingSession(agent).with_max_steps(steps)
    session.stats.track("_all", lambda r: rewards.append(r.total_reward) or 0.0, Last())
    return session, rewards


def ecs_dqn(steps: int, seed: int) -> tuple[float, list[float]]:
    world = fresh_world()
    session, rewards = recorded_session(DqnAgent(cp.observation_space, cp.action_space, presets.cartpole_dqn(seed)),
                                        steps)
    cp.build(1, seed=seed)
    plugin = install({"cartpole": session}, reset=cp.reset)
    started = time.perf_counter()
    step_world(plugin=plugin)
    elapsed = time.perf_counter() - started
    drop_world(world)
    return steps / elapsed, rewards


def plain_dqn(steps: int, seed: int) -> tuple[float, list[float]]:
    env = gym.make("CartPole-v1")
    session, rewards = recorded_session(DqnAgent(env.observation_space, env.action_space, presets.cartpole_dqn(seed)),
                                        steps)
    started = time.perf_counter()
    train(session, [env], seed=seed)
    return steps / (time.perf_counter() - started), rewards


# -- 4. hunt ---------------------------------------------------------------------------------------

def hunt_ticks_per_sec(learning: bool, ticks: int, warmup: int, n: int = 256) -> float:
    """Ticks per second of the hunt arena with ``n`` agents, after ``warmup`` ticks (learning under way)."""
    from ecs_rl.algorithms import DqnAgent as Dqn

    world = fresh_world()
    sizes = hunt.team_sizes(n)
    if learning:
        policies = {
            "prey": TrainingSession(Dqn(hunt.prey_observation_space, hunt.action_space,
                                        presets.hunt_prey_dqn(0, total_steps=100 * ticks * sizes["prey"]))),
            "predator": TrainingSession(Dqn(hunt.predator_observation_space, hunt.action_space,
                                            presets.hunt_predator_dqn(1, total_steps=100 * ticks * sizes["predator"]))),
        }
    else:
        policies = {"prey": RandomAgent(hunt.action_space, seed=0), "predator": RandomAgent(hunt.action_space, seed=1)}
    hunt.build(n, seed=0)
    plugin = hunt.install_hunt(policies)
    step_world(warmup, plugin=plugin)
    started = time.perf_counter()
    step_world(ticks, plugin=plugin)
    elapsed = time.perf_counter() - started
    drop_world(world)
    return ticks / elapsed


def alternate(a, b, repeats: int) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for _ in range(repeats):
        xs.append(a())
        ys.append(b())
    return xs, ys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["overhead", "batching", "training", "hunt"])
    add_write_option(parser)
    args = parser.parse_args()
    check_folder(parser, args.write)
    load = load_average()
    found: dict = {}  # the raw figures of each part, for --write
    configure_torch()  # one torch thread, flush-denormal: what `ecs-rl train` runs with
    q = args.quick
    lines = []
    want = lambda part: args.only in (None, part)  # noqa: E731

    if want("overhead"):
        ticks = 300 if q else 1500
        ecs, plain = alternate(lambda: ecs_random(64, ticks), lambda: plain_random(64, ticks), 3 if q else 5)
        ratio = statistics.median(e / p for e, p in zip(ecs, plain))
        found["overhead"] = {"entities": 64, "ticks": ticks, "ecs_steps_per_sec": ecs, "plain_steps_per_sec": plain}
        lines.append(f"overhead  64 entities, random policy: ECS {statistics.median(ecs):,.0f} steps/s, plain loop "
                     f"{statistics.median(plain):,.0f} steps/s -> ECS / plain = {ratio:.2f} (target >= 0.80)")

    if want("batching"):
        ticks = 100 if q else 400
        one, many = alternate(lambda: decide_cost(1, ticks * 8), lambda: decide_cost(256, ticks), 3 if q else 5)
        ratio = statistics.median(m / o for o, m in zip(one, many))
        found["batching"] = {"entities": 256, "ticks": ticks, "seconds_per_agent_step_1": one,
                             "seconds_per_agent_step_256": many}
        lines.append(f"batching  decide cost per agent-step: 1 entity {statistics.median(one) * 1e6:.1f} us, 256 "
                     f"entities {statistics.median(many) * 1e6:.2f} us -> 256 / 1 = {ratio:.3f} = 1/{1 / ratio:.0f} "
                     "(target <= 1/20)")

    if want("training"):
        steps = 10_000 if q else 30_000
        runs = [(ecs_dqn(steps, 0), plain_dqn(steps, 0)) for _ in range(2 if q else 3)]
        identical = all(e[1] == p[1] for e, p in runs)
        ratio = statistics.median(e[0] / p[0] for e, p in runs)
        found["training"] = {"steps": steps, "ecs_steps_per_sec": [e[0] for e, _ in runs],
                             "plain_steps_per_sec": [p[0] for _, p in runs], "identical": identical,
                             "episodes": len(runs[0][0][1])}
        lines.append(f"training  DQN CartPole {steps:,} steps, 1 entity: ECS "
                     f"{statistics.median(e[0] for e, _ in runs):,.0f} steps/s, plain "
                     f"{statistics.median(p[0] for _, p in runs):,.0f} steps/s -> ECS / plain = {ratio:.2f} "
                     f"(target >= 0.95); episode rewards identical: {identical} ({len(runs[0][0][1])} episodes)")

    if want("hunt"):
        line, found["hunt"] = hunt_line(q)
        lines.append(line)
    print("\n".join(lines))
    write("ecs-plugin", {"meta": meta(load, q), **found}, args.write)


def hunt_line(quick: bool) -> tuple[str, dict]:
    ticks = 100 if quick else 300
    rand, learn = alternate(lambda: hunt_ticks_per_sec(False, ticks, 50),
                            lambda: hunt_ticks_per_sec(True, ticks, 100), 1 if quick else 3)
    figures = {"agents": 256, "ticks": ticks, "random_ticks_per_sec": rand, "learning_ticks_per_sec": learn}
    return (f"hunt      256 agents (128 prey, 96 predators, 32 hawks), {ticks} ticks: random teams "
            f"{statistics.median(rand):,.0f} ticks/s, both teams learning (DQN) {statistics.median(learn):,.1f} ticks/s"), figures


if __name__ == "__main__":
    main()
