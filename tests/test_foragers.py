"""The Foragers world against a plain per-forager reference: moves, pellets, bumps, observations, resets."""

from __future__ import annotations

import copy

import esper
import numpy as np
import pytest

from ecs_rl.ecs.components import Action, Done, EpisodeInfo, Observation, Reward
from ecs_rl.worlds import foragers as fg


@pytest.fixture
def world():
    esper.switch_world("test-foragers")
    yield
    esper.switch_world("default")
    esper.delete_world("test-foragers")


def reference_observation(me, others, food, size=fg.ARENA) -> np.ndarray:
    """One forager's observation, computed the obvious way."""
    pellets = sorted((np.subtract(p, me) for p in food), key=lambda d: d @ d)[:2]
    near = min((np.subtract(o, me) for o in others), key=lambda d: d @ d) if others else np.zeros(2)
    row = np.concatenate([*pellets, near]) / size
    return np.clip(np.concatenate([row, np.asarray(me) / size * 2 - 1]), -1, 1).astype(np.float32)


def reference_tick(pos, food, actions, rng, size=fg.ARENA):
    """Every forager moves; each pellet in reach goes to its nearest forager and reappears (in pellet order);
    each forager with another within the bump radius pays; observations. Returns (pos, food, rewards, obs)."""
    pos = [[min(max(x + dx, 0.0), size), min(max(y + dy, 0.0), size)]
           for (x, y), (dx, dy) in zip(pos, (fg.MOVES[a] for a in actions))]
    rewards = [0.0] * len(pos)
    dist2 = lambda a, b: (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2  # noqa: E731
    food = [list(p) for p in food]
    eaten = []
    for j, pellet in enumerate(food):
        d = [dist2(p, pellet) for p in pos]
        k = int(np.argmin(d))
        if d[k] <= fg.EAT_RADIUS ** 2:
            rewards[k] += 1.0
            eaten.append(j)
    for j in eaten:
        food[j] = list(rng.uniform(0.0, size, size=2))
    for i, p in enumerate(pos):
        if any(dist2(p, q) <= fg.BUMP_RADIUS ** 2 for k, q in enumerate(pos) if k != i):
            rewards[i] -= fg.BUMP_COST
    obs = [reference_observation(p, [q for k, q in enumerate(pos) if k != i], food, size) for i, p in enumerate(pos)]
    return pos, food, rewards, np.array(obs)


def state(entities):
    pos = [[esper.component_for_entity(e, fg.Forager).x, esper.component_for_entity(e, fg.Forager).y]
           for e in entities]
    return pos, esper.get_component(fg.Arena)[0][1].food.tolist()


def observations(entities) -> np.ndarray:
    return np.array([esper.component_for_entity(e, Observation).value for e in entities])


def from_scratch(entities) -> np.ndarray:
    pos, food = state(entities)
    size = esper.get_component(fg.Arena)[0][1].size
    return np.array([reference_observation(p, [q for k, q in enumerate(pos) if k != i], food, size)
                     for i, p in enumerate(pos)])


@pytest.mark.parametrize("size", [None, 6.0])
def test_world_matches_the_reference_tick_by_tick(world, size):
    entities = fg.build(12, seed=3, n_food=12, size=size)
    side = fg.ARENA if size is None else size
    assert esper.get_component(fg.Arena)[0][1].size == side
    assert np.allclose(observations(entities), from_scratch(entities), atol=1e-6)
    rng = copy.deepcopy(esper.get_component(fg.Arena)[0][1].rng)
    choose = np.random.default_rng(0)
    eaten = bumps = 0
    for _ in range(150):
        pos, food = state(entities)
        actions = choose.integers(0, 5, size=len(entities))
        for e, a in zip(entities, actions):
            esper.component_for_entity(e, Action).value = a
        want_pos, want_food, want_rewards, want_obs = reference_tick(pos, food, actions, rng, side)
        esper.process()
        got_pos, got_food = state(entities)
        rewards = [esper.component_for_entity(e, Reward).value for e in entities]
        for e in entities:
            esper.component_for_entity(e, Reward).value = 0.0
        assert np.allclose(got_pos, want_pos) and np.allclose(got_food, want_food)
        assert np.allclose(rewards, want_rewards)
        assert np.allclose(observations(entities), want_obs, atol=1e-6)
        eaten += sum(r > 0.5 for r in rewards)
        bumps += sum(round(r) != r for r in rewards)
    assert eaten > 5 and bumps > 5  # the comparison covered pellets and bumps
    food = {e: esper.component_for_entity(e, EpisodeInfo).extras["food"] for e in entities}
    assert sum(food.values()) >= eaten
    if size is not None:  # the arena's side bounds foragers and pellets
        pos, food = state(entities)
        assert np.max(pos) <= side and np.max(food) <= side and np.max(pos) > 0.8 * side


def test_a_swarm_arena_keeps_the_demo_density_and_refuses_a_second_size(world):
    assert fg.swarm_size(16) == fg.ARENA and fg.swarm_size(4) == fg.ARENA and fg.swarm_size(256) == 4 * fg.ARENA
    fg.build(3, seed=0, size=25.0)
    fg.build(2, seed=1)  # joins the arena at its size
    assert esper.get_component(fg.Arena)[0][1].size == 25.0
    with pytest.raises(ValueError, match="arena of size 25; cannot add foragers with size=10"):
        fg.build(2, seed=2, size=10)
    with pytest.raises(ValueError, match="arena size must be a positive number, got -1"):
        fg.build(2, seed=2, size=-1)


def test_resets_bring_every_observation_up_to_date(world):
    """An unseeded reset updates only the observations it changes (O(n)); the result equals a recomputation."""
    entities = fg.build(40, seed=1, n_food=10, size=12.0)
    choose = np.random.default_rng(1)
    for tick in range(30):
        for e in entities:
            esper.component_for_entity(e, Action).value = int(choose.integers(5))
        esper.process()
        for e in choose.choice(entities, size=5, replace=False):
            before = esper.component_for_entity(e, Observation).value.copy()
            fg.reset(int(e))
            assert esper.component_for_entity(e, fg.Forager).ticks == 0
            assert not np.array_equal(esper.component_for_entity(e, Observation).value, before)
            assert np.allclose(observations(entities), from_scratch(entities), atol=1e-6), tick
    # a forager moved by someone else between ticks: the reset notices and recomputes
    mover = esper.component_for_entity(entities[0], fg.Forager)
    mover.x, mover.y = 5.0, 5.0
    fg.reset(entities[1])
    assert np.allclose(observations(entities), from_scratch(entities), atol=1e-6)
    # seeded: pellets re-placed from the seed, the same seed gives the same arena
    fg.reset(entities[2], seed=7)
    first = esper.get_component(fg.Arena)[0][1].food.copy(), observations(entities)[2]
    assert np.allclose(observations(entities), from_scratch(entities), atol=1e-6)
    fg.reset(entities[2], seed=7)
    assert np.array_equal(esper.get_component(fg.Arena)[0][1].food, first[0])
    assert np.array_equal(observations(entities)[2], first[1])


def test_a_lone_forager_sees_no_neighbour_and_ended_foragers_sit_out(world):
    (alone,) = fg.build(1, seed=0)
    assert np.array_equal(observations([alone])[0][4:6], [0.0, 0.0])
    fg.reset(alone)
    assert np.allclose(observations([alone]), from_scratch([alone]), atol=1e-6)
    esper.switch_world("default")
    esper.delete_world("test-foragers")
    esper.switch_world("test-foragers")
    a, b = fg.build(2, seed=0)
    esper.component_for_entity(a, Action).value = 1
    esper.component_for_entity(b, Action).value = 1
    esper.component_for_entity(b, Done).truncated = True
    where = (esper.component_for_entity(b, fg.Forager).x, esper.component_for_entity(b, fg.Forager).y)
    esper.process()
    assert (esper.component_for_entity(b, fg.Forager).x, esper.component_for_entity(b, fg.Forager).y) == where
    assert esper.component_for_entity(a, fg.Forager).ticks == 1
    assert np.array_equal(observations([a])[0][4:6], [0.0, 0.0])  # the ended forager is not a neighbour this tick
    fg.reset(b)
    assert np.allclose(observations([a, b]), from_scratch([a, b]), atol=1e-6)


def test_episodes_end_after_the_time_limit(world):
    entities = fg.build(3, seed=0)
    for tick in range(fg.EPISODE_TICKS):
        for e in entities:
            esper.component_for_entity(e, Action).value = 0
        esper.process()
        assert all(esper.component_for_entity(e, Done).truncated == (tick + 1 >= fg.EPISODE_TICKS) for e in entities)


def test_the_swarm_dqn_preset_runs_one_update_round_per_tick(world):
    """256 agents, ``presets.foragers_swarm_dqn``: 4 minibatches of 1 024 per tick once learning starts (the
    16-agent preset would run 64 of 128)."""
    from ecs_rl import TrainingSession
    from ecs_rl.algorithms import DqnAgent, presets
    from ecs_rl.ecs import install, step_world

    config = presets.foragers_swarm_dqn(seed=0)
    agent = DqnAgent(fg.observation_space, fg.action_space, config)
    fg.build(256, seed=0, size=fg.swarm_size(256))
    plugin = install({"foragers": TrainingSession(agent)}, reset=fg.reset)
    step_world(12, plugin=plugin)
    learning_ticks = sum(1 for t in range(1, 13) if 256 * t > config.learning_starts)
    assert learning_ticks > 0 and agent.total_steps == 12 * 256
    assert agent._updates == config.gradient_steps * learning_ticks == 4 * learning_ticks
    assert config.batch_size == 1024
