"""Behaviours of the plugin's agent table (``ecs_rl.ecs.lifecycle.Lifecycle``) that mutation testing found
unchecked: a held action made illegal again and again, resets, departures, arrivals and the agent ids they free."""

import esper
import numpy as np
from test_ecs_mutants2 import Masked
from walk_world import reset, spawn

from ecs_rl import EpisodeStatus, TrainingSession
from ecs_rl.ecs import Action, ActionMask, EpisodeTracker, install, step_world

RUNNING = EpisodeStatus.RUNNING


class ForbidHeld(esper.Processor):
    """A game processor that makes each listed entity's held action illegal every tick."""

    def __init__(self, *entities):
        self.entities = entities

    def process(self, *args, **kwargs):
        for entity in self.entities:
            held = int(esper.component_for_entity(entity, Action).value)
            esper.component_for_entity(entity, ActionMask).value = np.arange(2) != held


def test_each_decision_closed_early_by_an_illegal_held_action_counts_once(world):
    entity = spawn("walk", limit=100, decision_period=5)
    esper.add_component(entity, ActionMask(np.ones(2, dtype=bool)))
    esper.add_processor(ForbidHeld(entity), -10)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(4)  # a decision at each tick; the ones of ticks 1-3 close early at ticks 2-4
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    assert tracker.decisions == 3 and tracker.length == 4
    assert [(e.ticks, e.status) for e in session.agent.experiences] == [(1, RUNNING)] * 3
