"""Behaviours of the episode runner, freezing and episode bookkeeping that no other test checked."""

import json
from dataclasses import asdict

import esper
import numpy as np
import pytest
import torch
from test_policies import dqn
from walk_world import At, RecordingAgent, factory, reset, spawn

from ecs_rl.core.types import ActMode, EpisodeStatus
from ecs_rl.ecs import EpisodeTracker, ResetRequest, install, run_episodes, step_world


def test_a_reset_entitys_tracker_flags_are_false_booleans(world):
    entity = spawn("walk", limit=2)
    install({"walk": RecordingAgent(0)}, reset=reset, learning=False)
    step_world(2)  # the episode ends on tick 2 and the entity is reset at the end of that tick
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    assert tracker.episodes == 1 and tracker.length == 0
    assert tracker.waiting is False and tracker.needs_reset is False
    logged = json.loads(json.dumps({k: v for k, v in asdict(tracker).items() if k != "decision_obs"}))
    assert logged["waiting"] is False and logged["needs_reset"] is False  # a game logging it sees false, not null


@pytest.mark.parametrize("ticks", [2.5, True])
def test_run_episodes_refuses_ticks_that_are_not_a_whole_number(world, ticks):
    with pytest.raises(ValueError, match=r"run_episodes\(ticks=\.\.\.\) must be an integer >= 1 \(or None\), got "
                                         + repr(ticks)):
        run_episodes(factory(limit=3), {"walk": RecordingAgent(0)}, 1, seed=0, ticks=ticks)


def test_run_episodes_passes_the_reset_hook_on_for_a_reset_request(world):
    calls = []

    def build(n, seed):
        entities = factory(limit=5)(n, seed)
        esper.add_processor(At(2, lambda: esper.add_component(entities[0], ResetRequest(seed=7))))

    def hook(entity, seed):
        calls.append((entity, seed))
        reset(entity, seed)

    result = run_episodes(build, {"walk": RecordingAgent(0)}, 1, seed=0, reset=hook)
    assert len(calls) == 1 and calls[0][1] == 7
    [record] = result["walk"].records
    assert record.length == 2 and record.status == EpisodeStatus.TRUNCATED


def test_run_episodes_hands_drive_a_stop_that_turns_true_when_the_episodes_ended(world):
    answers = []

    def drive(stop):
        while not stop() and len(answers) < 50:
            esper.process(1 / 60)
            answers.append(stop())

    result = run_episodes(factory(limit=4), {"walk": RecordingAgent(0)}, 2, seed=0, drive=drive)
    assert answers == [False, False, False, True]
    assert [(r.length, r.status) for r in result["walk"].records] == [(4, EpisodeStatus.TERMINATED)] * 2


def test_freeze_by_default_acts_with_a_copy_of_the_network_as_it_was(world):
    learner = dqn(0)
    spawn("red", limit=1000)
    plugin = install({"red": learner}, reset=reset)
    plugin.freeze("red")
    obs = np.array([[float(i), float(i % 3)] for i in range(8)], dtype=np.float32)
    frozen = plugin.acting("red")
    before = np.asarray(frozen.act_batch(obs, ActMode.EXPLOIT, list(range(8))))
    last = [m for m in learner.agent.q_net.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():  # the live network now prefers the other action everywhere
        last.weight.zero_()
        last.bias.copy_(torch.tensor([1e6, 0.0]) if before.mean() >= 0.5 else torch.tensor([0.0, 1e6]))
    live = np.asarray(learner.agent.act_batch(obs, ActMode.EXPLOIT, list(range(8))))
    assert not np.array_equal(live, before)
    assert np.array_equal(np.asarray(frozen.act_batch(obs, ActMode.EXPLOIT, list(range(8)))), before)


def test_a_driven_run_stops_at_its_tick_limit_in_both_modes(world):
    def drive(stop):  # a window's loop: step the world until told to stop
        steps = 0
        while not stop():
            esper.process(1 / 60)
            steps += 1
            assert steps <= 100, "drive was never told to stop"

    window = run_episodes(factory(limit=4), {"walk": RecordingAgent(0)}, 2, seed=0, ticks=10, drive=drive)["walk"]
    assert window.ticks == 10
    assert [(r.length, r.status) for r in window.records] == [(4, EpisodeStatus.TERMINATED)] * 2
    long = run_episodes(factory(limit=1000), {"walk": RecordingAgent(0)}, 2, seed=0, max_ticks=7, drive=drive)["walk"]
    assert long.ticks == 7
    assert [(r.length, r.status, r.extras.get("unfinished")) for r in long.records] == \
        [(7, EpisodeStatus.TRUNCATED, 1.0)] * 2
