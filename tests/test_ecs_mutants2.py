"""Lifecycle and plugin behaviours that mutation testing found unchecked: departures after one tick,
last steps of agents deleted at once, early closes under an ``ActionMask``, freezing and the error texts."""

import esper
import numpy as np
import pytest
from walk_world import At, RecordingAgent, factory, reset, spawn

from ecs_rl import EpisodeStatus, RandomAgent, TrainingSession
from ecs_rl.ecs import (
    Action, ActionMask, Agent, ComponentError, EpisodeTracker, Evaluation, Reward, WorldError, install, step_world,
)


def test_an_agent_deleted_after_one_tick_ends_a_truncated_episode_of_length_one(world):
    session = TrainingSession(RecordingAgent())
    leaver = spawn("walk", limit=100)
    plugin = install({"walk": session}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(1)
    esper.delete_entity(leaver)  # between ticks: it closes at the next tick with no step of its own
    step_world(1)
    assert [(e.entity, e.status, e.length, e.extras) for e in ends] == [
        (leaver, EpisodeStatus.TRUNCATED, 1, {"entity_removed": 1.0})]
    assert session.total_episodes == 1


def test_an_agent_deleted_at_once_ends_its_episode_with_the_sum_of_its_rewards(world):
    session = TrainingSession(RecordingAgent())
    vanishes = spawn("walk", limit=100)
    esper.add_processor(At(3, lambda: esper.delete_entity(vanishes, immediate=True)), -10)
    plugin = install({"walk": session}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(3)
    rewards = [e.reward for e in session.agent.experiences]
    assert len(rewards) == 3 and min(rewards) >= 1.0
    assert [(e.status, e.length) for e in ends] == [(EpisodeStatus.TRUNCATED, 3)]
    assert ends[0].total_reward == pytest.approx(sum(rewards))


def test_an_agent_deleted_at_once_after_its_policy_name_changed_is_named_in_the_error(world):
    session = TrainingSession(RecordingAgent())
    entity = spawn("walk", limit=100)

    def rename_and_delete():
        esper.component_for_entity(entity, Agent).policy = "nope"
        esper.delete_entity(entity, immediate=True)

    esper.add_processor(At(2, rename_and_delete), -10)
    install({"walk": session}, reset=reset)
    with pytest.raises(ComponentError, match=f"^entity {entity}: Agent names unknown policy 'nope'; known: walk$"):
        step_world(2)


def test_an_entity_with_agent_but_not_the_other_components_is_told_how_to_make_one(world):
    install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    entity = esper.create_entity(Agent("walk"))
    with pytest.raises(ComponentError, match=rf"^entity {entity}: has Agent but lacks .*EpisodeTracker "
                                             r"\(create agents with ecs_rl\.ecs\.agent_components\)$"):
        step_world(1)


def test_running_in_another_world_says_how_to_get_back(world):
    spawn("walk", limit=5)
    plugin = install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    esper.switch_world(world + "-x")
    try:
        with pytest.raises(WorldError, match=rf"switch back with esper.switch_world\('{world}'\) before "
                                             r"esper.process\(\), and do not switch worlds inside a processor$"):
            step_world(plugin=plugin)
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-x")


class Masked(RecordingAgent):
    def act_batch(self, obs_batch, mode=None, agent_ids=None, masks=None):
        self.batches.append((np.array(obs_batch), list(agent_ids), mode))
        return RandomAgent.act_batch(self, obs_batch, mode, agent_ids, masks)


def test_a_held_action_made_illegal_closes_one_decision_with_the_observation_it_reached(world):
    entity = spawn("walk", limit=100, decision_period=3)
    esper.add_component(entity, ActionMask(np.ones(2, dtype=bool)))

    def forbid_the_held_action():
        held = int(esper.component_for_entity(entity, Action).value)
        esper.component_for_entity(entity, ActionMask).value = np.arange(2) != held

    esper.add_processor(At(1, forbid_the_held_action), -10)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(4)  # decide at tick 1; the held action illegal at tick 2: closes after 1 tick, decides again
    first, second = session.agent.experiences
    assert (first.ticks, first.status) == (1, EpisodeStatus.RUNNING)
    assert first.next_obs.tolist() == [1.0, 0.0] and np.array_equal(first.next_obs, second.obs)
    assert second.ticks == 3
    assert esper.component_for_entity(entity, EpisodeTracker).decisions == 2  # each closed decision once


def test_a_policy_spent_beside_one_frozen_by_hand_finishes_the_plugin(world):
    spawn("walk", limit=100)
    spawn("run", limit=100)
    plugin = install({"walk": TrainingSession(RecordingAgent()).with_max_steps(3),
                      "run": TrainingSession(RecordingAgent()).with_max_steps(1000)}, reset=reset)
    plugin.freeze("run")
    step_world(2)
    assert not plugin.done
    step_world(2)
    assert plugin.progress()["walk"].state == "budget" and plugin.done


def test_evaluation_leaves_out_a_policy_frozen_by_hand(world):
    def both(n, seed):
        return factory("walk", limit=3)(n, seed) + factory("run", limit=3)(n, seed)

    spawn("walk", limit=3)
    spawn("run", limit=3)
    plugin = install({"walk": TrainingSession(RecordingAgent()), "run": TrainingSession(RecordingAgent())},
                     reset=reset, evaluation=Evaluation(both, every=10**6, episodes=2))
    step_world(2)
    assert sorted(r.policy for r in plugin.evaluate()) == ["run", "walk"]
    plugin.freeze("run")
    assert [r.policy for r in plugin.evaluate()] == ["walk"]


def test_an_agent_deleted_before_decide_does_not_stop_the_others_deciding(world):
    leaver, stays = spawn("walk", limit=100), spawn("walk", limit=100)
    esper.add_processor(At(3, lambda: esper.delete_entity(leaver)), 200)  # before the plugin's decide (100)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset)
    step_world(4)
    assert [ids for _, ids, _ in session.agent.batches] == [[leaver, stays]] * 2 + [[stays]] * 2
