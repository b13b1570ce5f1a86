"""Lifecycle and event behaviours that mutation testing found unchecked: the exit-time clean-up of handlers
in worlds that have none, an uninstall leaving trackers as new, an agent id freed by a team change, and
the bad observation of a decision closed early by a mask being named as the next one."""

import atexit

import esper
import numpy as np
import pytest
from test_ecs_mutants2 import Masked
from walk_world import At, RecordingAgent, reset, spawn

from ecs_rl import TrainingSession
from ecs_rl.ecs import (
    EPISODE_END, MATCH_RESULT, TRAINING_DONE, Action, ActionMask, Agent, ComponentError, EpisodeTracker, Observation,
    install, step_world,
)
from ecs_rl.ecs.events import _forget_handlers


def test_the_exit_clean_up_drops_plugin_handlers_and_passes_over_worlds_without_them(world):
    def on_end(event):
        pass

    def on_other(event):
        pass

    esper.set_handler(EPISODE_END, on_end)
    esper.set_handler("game.other", on_other)
    esper.switch_world(f"{world}-bare")  # a world with no handlers at all
    try:
        esper.switch_world(world)
        _forget_handlers()  # what atexit runs
        assert esper.current_world == world
        assert EPISODE_END not in esper.event_registry and "game.other" in esper.event_registry
        assert not {TRAINING_DONE, MATCH_RESULT} & set(esper.event_registry)
    finally:
        esper.delete_world(f"{world}-bare")


@pytest.mark.skipif(not hasattr(atexit, "_ncallbacks"), reason="counts atexit's callbacks with CPython's _ncallbacks")
def test_the_exit_clean_up_is_registered_with_atexit_once(monkeypatch):
    from ecs_rl.ecs import events

    monkeypatch.setattr(events, "_forgetting", False)  # as in a fresh process, before any install
    before = atexit._ncallbacks()
    events.forget_handlers_at_exit()
    assert atexit._ncallbacks() == before + 1
    events.forget_handlers_at_exit()  # every later install: registered already
    assert atexit._ncallbacks() == before + 1


def test_uninstall_leaves_a_tracker_in_mid_decision_as_a_new_one(world):
    entity = spawn("walk", limit=100, decision_period=3)
    plugin = install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    step_world(2)  # two ticks into a three-tick decision
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    assert tracker.waiting and tracker.ticks_since_decision == 2
    plugin.uninstall()
    assert tracker == EpisodeTracker(episodes=tracker.episodes, key=tracker.key)


def test_an_agent_id_given_up_in_a_team_change_can_be_taken_by_a_new_entity(world):
    first = spawn("walk", limit=100, agent_id=5)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset)
    step_world(2)
    esper.add_component(first, Agent("walk", agent_id=7))  # the same entity, now under id 7
    second = spawn("walk", limit=100, tag=1.0, agent_id=5)  # id 5 is free: its old holder gave it up
    step_world(2)
    assert sorted(session.agent.batches[-1][1]) == [5, 7] and esper.entity_exists(second)
    spawn("walk", limit=100, agent_id=7)  # but id 7 is its new holder's while it lives
    with pytest.raises(ComponentError, match=f"agent_id 7 of policy 'walk' is already used by live entity {first};"):
        step_world(1)


def test_a_bad_observation_when_a_masked_held_action_closes_its_decision_is_named_as_the_next_one(world):
    entity = spawn("walk", limit=100, decision_period=3)
    esper.add_component(entity, ActionMask(np.ones(2, dtype=bool)))

    def forbid_the_held_action_and_break_the_observation():
        held = int(esper.component_for_entity(entity, Action).value)
        esper.component_for_entity(entity, ActionMask).value = np.arange(2) != held
        esper.component_for_entity(entity, Observation).value = np.array([np.nan, 0.0], dtype=np.float32)

    esper.add_processor(At(1, forbid_the_held_action_and_break_the_observation), -10)
    install({"walk": TrainingSession(Masked())}, reset=reset)
    step_world(1)  # mid-decision: the record processor closes nothing and reads no observation
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Observation \(next\) is not finite: "):
        step_world(1)  # the held action is illegal now: its decision closes on this observation
