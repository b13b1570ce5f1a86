"""Lifecycle, episode-runner and clock behaviours that mutation testing found unchecked: the last step of
an agent deleted at once with a bad reward or a mask made empty, the entity an uninstall's episode ends
name, a scored entity gone before its first tick, and the fixed step's default rate."""

import esper
import numpy as np
import pytest
from test_ecs_mutants2 import Masked
from walk_world import At, RecordingAgent, reset, spawn

from ecs_rl import EpisodeStatus, TrainingSession
from ecs_rl.ecs import ActionMask, ComponentError, FixedStep, Reward, install, run_episodes, step_world


def test_a_bad_reward_of_an_agent_deleted_at_once_is_named(world):
    entity = spawn("walk", limit=100)

    def bad_reward_and_delete():
        esper.component_for_entity(entity, Reward).value = float("nan")
        esper.delete_entity(entity, immediate=True)

    esper.add_processor(At(2, bad_reward_and_delete), -10)
    install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    with pytest.raises(ComponentError, match=f"^entity {entity}: Reward must be a finite number, got nan$"):
        step_world(2)


def test_a_mask_emptied_before_an_agent_is_deleted_at_once_is_named_as_its_next_mask(world):
    entity = spawn("walk", limit=100)
    esper.add_component(entity, ActionMask(np.ones(2, dtype=bool)))

    def empty_the_mask_and_delete():
        esper.component_for_entity(entity, ActionMask).value[:] = False  # the array it decided under
        esper.delete_entity(entity, immediate=True)  # it left (not terminated): its mask is the next one

    esper.add_processor(At(2, empty_the_mask_and_delete), -10)
    install({"walk": TrainingSession(Masked())}, reset=reset)
    with pytest.raises(ComponentError, match=rf"^entity {entity}: ActionMask \(next\) allows no action \(all False\)"):
        step_world(2)


def test_uninstall_ends_each_live_episode_naming_its_entity(world):
    first, second = spawn("walk", limit=100), spawn("walk", limit=100)
    session = TrainingSession(RecordingAgent())
    plugin = install({"walk": session}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(3)
    plugin.uninstall()
    assert sorted((e.entity, e.status, e.length, e.extras) for e in ends) == [
        (first, EpisodeStatus.TRUNCATED, 3, {"plugin_removed": 1.0}),
        (second, EpisodeStatus.TRUNCATED, 3, {"plugin_removed": 1.0})]


def test_run_episodes_skips_a_scored_entity_deleted_before_its_first_tick(world):
    def factory(n, seed):
        entities = [spawn("walk", limit=4, tag=float(i)) for i in range(n)]
        esper.delete_entity(entities[0])  # gone at the first tick's start, before the plugin saw it
        return entities

    result = run_episodes(factory, {"walk": RecordingAgent()}, 3, seed=0)["walk"]
    assert [(r.status, r.length) for r in result.records] == [(EpisodeStatus.TERMINATED, 4)] * 2
    assert result.ticks == 4


def test_a_fixed_step_runs_fifty_ticks_a_simulated_second_by_default():
    clock = FixedStep()
    assert clock.dt == pytest.approx(0.02)
    assert clock.advance(1.0) == 50
    assert clock.advance(0.5, speed=2.0) == 50
