"""The hunt arena: its rules (catches, starvation, respawns, decision periods), its drawing, and both teams
learning at once (each beats a random team in its place)."""

import time
from collections import Counter

import esper
import numpy as np
import pygame
import pytest

from ecs_rl import TrainingSession
from ecs_rl.algorithms import DqnAgent, presets
from ecs_rl.core.agent import RandomAgent
from ecs_rl.core.types import EpisodeStatus
from ecs_rl.ecs import Agent, HumanController, Observation, ScriptedController, step_world
from ecs_rl.worlds import hunt


def stay(observation, entity):
    return 0


def small_arena(policies=None):
    """One prey, one predator, one hawk (all standing still unless told otherwise) in a 10 x 10 arena."""
    teams = hunt.build(3, seed=0, side=10.0)
    still = ScriptedController(stay, hunt.action_space)
    plugin = hunt.install_hunt({"prey": still, "predator": still, "hawk": still, **(policies or {})})
    ended = []
    plugin.on_episode_end(ended.append)
    (prey,), (predator,), (hawk,) = teams["prey"], teams["predator"], teams["hawk"]
    place(hawk, hunt.Hawk, 0.1, 0.1)
    return plugin, ended, prey, predator


def place(entity, body, x, y):
    b = esper.component_for_entity(entity, body)
    b.x, b.y = x, y
    hunt.observe_all()


def test_a_caught_prey_terminates_and_a_new_prey_entity_spawns(world):
    hunt.build(5, seed=0, side=10.0)  # two prey (the one caught waits to respawn), two predators, a hawk
    still = ScriptedController(stay, hunt.action_space)
    plugin = hunt.install_hunt({"prey": still, "predator": still, "hawk": still})
    ended = []
    plugin.on_episode_end(ended.append)
    (prey, other), (predator, far) = [[e for e, _ in esper.get_component(b)] for b in (hunt.Prey, hunt.Predator)]
    (hawk,) = [e for e, _ in esper.get_component(hunt.Hawk)]
    place(hawk, hunt.Hawk, 0.1, 0.1)
    place(far, hunt.Predator, 0.1, 9.9)
    place(other, hunt.Prey, 9.0, 9.0)
    place(prey, hunt.Prey, 5.0, 5.0)
    place(predator, hunt.Predator, 5.3, 5.0)
    step_world(1, plugin=plugin)
    (event,) = ended
    assert (event.entity, event.policy, event.status, event.total_reward) == (prey, "prey", EpisodeStatus.TERMINATED,
                                                                             -1.0)
    step_world(1, plugin=plugin)
    assert not esper.entity_exists(prey) and esper.entity_exists(predator)
    assert esper.component_for_entity(predator, hunt.Predator).hunger <= 1  # fed by the catch
    counts = esper.get_component(hunt.Hunt)[0][1].counts
    assert counts["caught_by_predators"] == 1 and counts["prey_spawned"] == 0
    step_world(hunt.RESPAWN_TICKS["prey"], plugin=plugin)
    (new_prey,) = [e for e, _ in esper.get_component(hunt.Prey) if e != other]
    assert new_prey != prey and esper.component_for_entity(new_prey, Agent).policy == "prey"
    assert hunt.prey_observation_space.contains(esper.component_for_entity(new_prey, Observation).value)
    assert counts["prey_spawned"] == 1


def learning_prey():
    return TrainingSession(DqnAgent(hunt.prey_observation_space, hunt.action_space, presets.hunt_prey_dqn(0)))


def test_the_last_of_a_team_is_replaced_at_once(world):
    plugin, ended, prey, predator = small_arena()
    place(prey, hunt.Prey, 5.0, 5.0)
    place(predator, hunt.Predator, 5.3, 5.0)
    step_world(1, plugin=plugin)
    (replacement,) = [e for e, _ in esper.get_component(hunt.Prey) if e != prey]
    assert [e.entity for e in ended] == [prey] and esper.component_for_entity(replacement, Agent).policy == "prey"


def test_a_death_reaches_the_learner_as_terminated_with_the_true_final_observation(world):
    session = learning_prey()
    plugin, ended, prey, predator = small_arena({"prey": session})
    place(prey, hunt.Prey, 5.0, 5.0)
    place(predator, hunt.Predator, 5.0, 5.0)  # the prey moves at most 0.3 this tick: it is caught
    step_world(1, plugin=plugin)
    replay = session.agent.replay
    assert replay.size == 1 and replay.terminated[0] == 1.0 and replay.rows[0, 2 * 10 + 1] == -1.0
    body = esper.component_for_entity(prey, hunt.Prey)
    to_predator = (np.array([5.0, 5.0]) - (body.x, body.y)) / hunt.VIEW
    np.testing.assert_allclose(replay.next_obs[0][4:6], to_predator, atol=1e-6)  # where it died, not before


def test_a_long_life_is_truncated_not_terminated(world):
    session = learning_prey()
    plugin, ended, prey, predator = small_arena({"prey": session})
    place(prey, hunt.Prey, 9.0, 9.0)
    place(predator, hunt.Predator, 1.0, 1.0)
    esper.component_for_entity(prey, hunt.Prey).age = hunt.MAX_AGE - 1
    step_world(1, plugin=plugin)
    (event,) = ended
    assert (event.entity, event.status) == (prey, EpisodeStatus.TRUNCATED)
    assert session.agent.replay.terminated[0] == 0.0  # a truncated life bootstraps


def test_a_starving_predator_terminates_and_respawns(world):
    plugin, ended, prey, predator = small_arena()
    place(prey, hunt.Prey, 9.0, 9.0)
    place(predator, hunt.Predator, 1.0, 9.0)
    esper.component_for_entity(predator, hunt.Predator).hunger = hunt.STARVE_TICKS - 3
    step_world(2, plugin=plugin)
    assert ended == []
    step_world(1, plugin=plugin)
    (event,) = ended
    assert (event.entity, event.policy, event.status, event.total_reward) == (
        predator, "predator", EpisodeStatus.TERMINATED, -1.0)
    step_world(hunt.RESPAWN_TICKS["predator"] + 1, plugin=plugin)
    (new_predator,) = [e for e, _ in esper.get_component(hunt.Predator)]
    assert new_predator != predator and esper.component_for_entity(new_predator, hunt.Predator).hunger < 12
    assert esper.get_component(hunt.Hunt)[0][1].counts["starved"] == 1


def test_a_person_plays_one_prey_and_each_of_its_replacements(world):
    hunt.build(3, seed=0, side=10.0, human="prey")
    person = HumanController(hunt.action_space, default=0)
    still = ScriptedController(stay, hunt.action_space)
    plugin = hunt.install_hunt({hunt.HUMAN_POLICY: person, "prey": still, "predator": still, "hawk": still})
    (prey,) = [e for e, _ in esper.get_component(hunt.Prey)]
    (predator,) = [e for e, _ in esper.get_component(hunt.Predator)]
    assert esper.component_for_entity(prey, Agent).policy == hunt.HUMAN_POLICY
    place(prey, hunt.Prey, 5.0, 5.0)
    place(predator, hunt.Predator, 7.0, 5.0)
    person.set_action(4)  # right, into the predator
    step_world(6, plugin=plugin)  # caught on the way; the only prey is replaced at once
    person.set_action(0)
    step_world(2, plugin=plugin)
    (new_prey,) = [e for e, _ in esper.get_component(hunt.Prey)]
    assert new_prey != prey and esper.component_for_entity(new_prey, Agent).policy == hunt.HUMAN_POLICY
    assert esper.get_component(hunt.Hunt)[0][1].human_entity == new_prey
    with pytest.raises(ValueError, match="human must be one of"):
        hunt.build(3, seed=0, human="hawk")


def test_decision_periods_are_respected(world):
    decisions = Counter()

    def counting(observation, entity):
        decisions[esper.component_for_entity(entity, Agent).policy] += 1
        return 0

    counter = ScriptedController(counting, hunt.action_space)
    hunt.build(3, seed=0, side=10.0)
    plugin = hunt.install_hunt({"prey": counter, "predator": counter, "hawk": counter})
    for team, body in [("prey", hunt.Prey), ("predator", hunt.Predator), ("hawk", hunt.Hawk)]:
        (entity,) = [e for e, _ in esper.get_component(body)]
        place(entity, body, {"prey": 9.5, "predator": 0.5, "hawk": 5.0}[team], 0.5 if team != "hawk" else 9.5)
    # the hawk creeps toward the prey but cannot reach it within the 12 ticks
    step_world(12, plugin=plugin)
    assert decisions == {"prey": 12, "predator": 12 // hunt.PREDATOR_PERIOD, "hawk": 12 // hunt.HAWK_PERIOD}


def test_observations_of_every_team_are_in_their_spaces_and_the_world_scales(world):
    teams = hunt.build(64, seed=3)
    assert {t: len(v) for t, v in teams.items()} == hunt.team_sizes(64) == {"prey": 32, "predator": 24, "hawk": 8}
    plugin = hunt.install_hunt({"prey": RandomAgent(hunt.action_space, seed=0),
                                "predator": RandomAgent(hunt.action_space, seed=1)})
    step_world(50, plugin=plugin)
    for team, body in [("prey", hunt.Prey), ("predator", hunt.Predator), ("hawk", hunt.Hawk)]:
        for entity, _ in esper.get_component(body):
            assert hunt.observation_spaces[team].contains(esper.component_for_entity(entity, Observation).value)
    side = esper.get_component(hunt.Hunt)[0][1].side
    assert side == pytest.approx(hunt.arena_side(64)) and all(
        0 <= b.x <= side and 0 <= b.y <= side for _, b in esper.get_component(hunt.Prey))
    with pytest.raises(ValueError, match="n must be >= 3"):
        hunt.team_sizes(2)


def test_the_evaluation_factory_gives_each_learning_team_its_episodes(world):
    teams = hunt.factory()(16, 7)
    assert len(teams["prey"]) >= 16 and len(teams["predator"]) >= 16
    assert hunt.agents_for(16) == 42 and hunt.team_sizes(41)["predator"] < 16


def test_hawk_script_flies_along_the_larger_offset():
    assert [hunt.hawk_chase(np.array(o, np.float32), 1) for o in [(0.5, 0.1), (-0.5, 0.1), (0.1, 0.4), (0.1, -0.4),
                                                                    (0.0, 0.0)]] == [4, 3, 1, 2, 0]


def test_drawing_shows_every_team(world):
    from ecs_rl.render import hunt as hunt_draw
    from ecs_rl.render.window import Window

    hunt.build(24, seed=0, human="prey")
    human = esper.get_component(hunt.Hunt)[0][1].human_entity
    place(human, hunt.Prey, 5.0, 5.0)  # the person's prey in the open, not under the scoreboard
    window = Window((640, 640), "hunt")
    try:
        hunt_draw.draw_world(window.screen)
        pixels = pygame.surfarray.array3d(window.screen).reshape(-1, 3)
        seen = {tuple(int(v) for v in p) for p in np.unique(pixels, axis=0)}
        assert {hunt_draw.PREY, hunt_draw.PREDATOR, hunt_draw.HAWK, hunt_draw.PELLET, hunt_draw.HUMAN,
                hunt_draw.GROUND} <= seen
    finally:
        window.close()


@pytest.fixture
def one_torch_thread():
    """The settings the ecs-rl commands use (one thread, flush-denormal): fast, and the same figures anywhere."""
    from ecs_rl.algorithms import configure_torch

    previous = configure_torch()
    yield
    configure_torch(previous.num_threads, previous.flush_denormal)


def test_prey_and_predators_both_learn_to_beat_a_random_team(world, one_torch_thread):
    """Both teams train at once (3 000 ticks, 24 agents); then, greedy, on the same seeds: trained prey vs
    random prey against the trained predators, trained predators vs random predators against the trained prey."""
    ticks, n = 3_000, 24
    sizes = hunt.team_sizes(n)
    prey = TrainingSession(DqnAgent(hunt.prey_observation_space, hunt.action_space,
                                    presets.hunt_prey_dqn(0, total_steps=ticks * sizes["prey"])))
    predator = TrainingSession(DqnAgent(
        hunt.predator_observation_space, hunt.action_space,
        presets.hunt_predator_dqn(1, total_steps=ticks * sizes["predator"] // hunt.PREDATOR_PERIOD)))
    hunt.build(n, seed=0)
    started = time.perf_counter()
    step_world(ticks, plugin=hunt.install_hunt({"prey": prey, "predator": predator}))
    trained = {"prey": prey.agent.to_policy(), "predator": predator.agent.to_policy()}
    seeds = (10_000, 10_001)
    both = hunt.score(trained, n, seeds, ticks=600)
    random_prey = hunt.score({"prey": RandomAgent(hunt.action_space, seed=1), "predator": trained["predator"]}, n,
                             seeds, ticks=600)["prey"]
    random_predators = hunt.score({"prey": trained["prey"], "predator": RandomAgent(hunt.action_space, seed=2)}, n,
                                  seeds, ticks=600)["predator"]
    figures = (both, random_prey, random_predators, f"{time.perf_counter() - started:.1f} s")
    print(figures)
    assert both["prey"] > random_prey + 0.75, figures
    assert both["predator"] > random_predators + 1.0 and both["predator"] > 2 * random_predators, figures
