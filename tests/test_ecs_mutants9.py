"""Behaviours of the plugin's agent table (``ecs_rl.ecs.lifecycle``) a mutation run found unchecked (ninth
sample): the whole last step of an agent deleted at once (its transition, episode end and the tracker the game
may still hold), what leaving a world hands back, and the extras an episode end carries."""

import esper
import numpy as np
import pytest
from test_ecs_mutants2 import Masked
from walk_world import At, RecordingAgent, reset, spawn

from ecs_rl import EpisodeStatus, TrainingSession
from ecs_rl.ecs import (
    ActionMask, ComponentError, Done, EpisodeInfo, EpisodeTracker, Observation, Plugin, Reward, install, step_world,
)

TERMINATED, TRUNCATED, RUNNING = EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED, EpisodeStatus.RUNNING


def installed(policy, **kwargs):
    """``install`` with the walk world's reset hook; returns the plugin and the list its episode ends go to."""
    plugin = install({"walk": policy}, reset=reset, **kwargs)
    ends = []
    plugin.on_episode_end(ends.append)
    return plugin, ends


def test_the_last_step_of_an_agent_deleted_at_once_mid_decision_closes_everything_it_held(world):
    """Decision period 4, gamma 0.5, deleted at once on tick 7 (the third tick of its second decision)."""
    agent = RecordingAgent()
    agent.gamma = 0.5
    session = TrainingSession(agent)
    entity = spawn("walk", limit=100, tag=3.0, decision_period=4, agent_id=7)
    tracker = esper.component_for_entity(entity, EpisodeTracker)  # the game may keep it: it must read closed

    def bonus_and_delete():
        esper.component_for_entity(entity, Reward).value += 2.5
        esper.delete_entity(entity, immediate=True)

    esper.add_processor(At(7, bonus_and_delete), -10)
    _, ends = installed(session)
    step_world(8)
    first, last = agent.experiences
    a1, a2 = int(first.action), int(last.action)
    assert (first.ticks, first.status, first.next_obs.tolist()) == (4, RUNNING, [4.0, 3.0])
    assert first.reward == pytest.approx((1 + a1) * (1 + 0.5 + 0.25 + 0.125))
    assert last.obs.tolist() == [4.0, 3.0] and last.next_obs.tolist() == [7.0, 3.0]
    assert (last.status, last.agent_id, last.ticks, last.next_mask) == (TRUNCATED, 7, 3, None)
    assert last.reward == pytest.approx((1 + a2) * 1.5 + (3.5 + a2) * 0.25)
    total = 4 * (1 + a1) + 3 * (1 + a2) + 2.5
    (end,) = ends
    assert (end.entity, end.policy, end.agent_id, end.status, end.length) == (entity, "walk", 7, TRUNCATED, 7)
    assert end.total_reward == pytest.approx(total)
    assert end.extras == {"entity_removed": 1.0, "decisions": 2.0}
    assert tracker.waiting is False and tracker.needs_reset is True
    assert (tracker.length, tracker.decisions, tracker.ticks_since_decision, tracker.key) == (7, 2, 3, 7)
    assert tracker.total_reward == pytest.approx(total) and tracker.decision_reward == pytest.approx(last.reward)
    assert session.total_episodes == 1 and agent.forgotten == [7]


def test_an_agent_that_dies_at_once_has_no_next_mask_and_one_that_leaves_keeps_its_own(world):
    dies, leaves = spawn("walk", limit=100), spawn("walk", limit=100, tag=1.0)
    for entity in (dies, leaves):
        esper.add_component(entity, ActionMask(np.array([False, True])))

    def die_and_leave():
        esper.component_for_entity(dies, Done).terminated = True
        esper.delete_entity(dies, immediate=True)
        esper.delete_entity(leaves, immediate=True)

    esper.add_processor(At(2, die_and_leave), -10)
    session = TrainingSession(Masked())
    _, ends = installed(session)
    step_world(3)
    last = {e.next_obs[1]: e for e in session.agent.experiences if e.done}
    assert (last[0.0].status, last[0.0].next_mask, last[0.0].action) == (TERMINATED, None, 1)
    assert last[1.0].status == TRUNCATED and last[1.0].next_mask.tolist() == [False, True]
    assert last[1.0].next_mask.dtype == np.bool_
    assert sorted((e.entity, e.policy, e.agent_id, e.status, e.length, e.extras) for e in ends) == [
        (dies, "walk", dies, TERMINATED, 2, {}), (leaves, "walk", leaves, TRUNCATED, 2, {"entity_removed": 1.0})]


def test_an_agent_deleted_at_once_under_a_plugin_that_does_not_learn_is_not_learned_from(world):
    session = TrainingSession(RecordingAgent())
    entity = spawn("walk", limit=100)
    esper.add_processor(At(2, lambda: esper.delete_entity(entity, immediate=True)), -10)
    stays = spawn("walk", limit=100)
    plugin, ends = installed(session, learning=False)
    step_world(3)
    assert session.agent.experiences == [] and session.total_steps == 0
    assert [(e.entity, e.status, e.length) for e in ends] == [(entity, TRUNCATED, 2)]
    plugin.uninstall()  # neither the departed agent nor the one left behind is forgotten: none was learned from
    assert [(e.entity, e.status, e.length) for e in ends[1:]] == [(stays, TRUNCATED, 3)]
    assert session.agent.forgotten == []


def test_a_bad_final_observation_of_an_agent_deleted_at_once_is_named_as_its_next_one(world):
    entity = spawn("walk", limit=100)

    def spoil_and_delete():
        esper.component_for_entity(entity, Observation).value = np.array([np.nan, 0.0], dtype=np.float32)
        esper.delete_entity(entity, immediate=True)

    esper.add_processor(At(2, spoil_and_delete), -10)
    installed(TrainingSession(RecordingAgent()))
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Observation \(next\) is not finite: "):
        step_world(2)


@pytest.mark.parametrize("bad", [True, np.bool_(False), "1", float("inf")])
def test_a_reward_that_is_not_a_finite_number_is_named_when_an_agent_is_deleted_at_once(world, bad):
    entity = spawn("walk", limit=100)

    def bad_reward_and_delete():
        esper.component_for_entity(entity, Reward).value = bad
        esper.delete_entity(entity, immediate=True)

    esper.add_processor(At(2, bad_reward_and_delete), -10)
    installed(TrainingSession(RecordingAgent()))
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Reward must be a finite number, got {bad!r}$"):
        step_world(2)


def test_uninstall_ends_only_episodes_with_steps_and_names_each_agent_and_its_decisions(world):
    """Live agents of 3 ticks (decision period 2, agent id 5) and of 1 tick end truncated; one that arrived this
    tick (no step yet) and one already ended (awaiting its deletion) hand back no end; the session forgets all."""
    session = TrainingSession(RecordingAgent())
    paired = spawn("walk", limit=100, decision_period=2, agent_id=5)
    ended = spawn("walk", limit=3)
    newcomer = []
    esper.add_processor(At(3, lambda: newcomer.append(spawn("walk", limit=100))), -10)  # after decide: no step
    plugin, ends = installed(session, on_end="delete")
    step_world(2)
    late = spawn("walk", limit=100)
    step_world(1)
    trackers = {e: esper.component_for_entity(e, EpisodeTracker) for e in (paired, late, newcomer[0])}
    assert [(e.entity, e.status, e.length) for e in ends] == [(ended, TERMINATED, 3)]
    plugin.uninstall()  # ``ended`` is still in the table: its deletion is pending until the next tick
    left = {e.entity: e for e in ends[1:]}
    assert sorted(left) == sorted([paired, late])
    assert (left[paired].policy, left[paired].agent_id, left[paired].status, left[paired].length) == (
        "walk", 5, TRUNCATED, 3)
    assert left[paired].extras == {"plugin_removed": 1.0, "decisions": 1.0}
    assert (left[late].policy, left[late].agent_id, left[late].status, left[late].length) == (
        "walk", late, TRUNCATED, 1)
    assert left[late].extras == {"plugin_removed": 1.0}
    (step,) = [e for e in session.agent.experiences if e.agent_id == late]
    assert left[late].total_reward == pytest.approx(1 + step.action)
    assert left[paired].total_reward >= 3.0
    assert sorted(session.agent.forgotten) == sorted([5, ended, late, newcomer[0]])
    assert trackers[paired].key == 5 and trackers[late].key == late
    for tracker in trackers.values():  # every field fresh but the episode count and the agent id
        assert (tracker.length, tracker.total_reward, tracker.decisions) == (0, 0.0, 0)
        assert (tracker.decision_obs, tracker.decision_reward, tracker.ticks_since_decision) == (None, 0.0, 0)
        assert tracker.waiting is False and tracker.needs_reset is False


def test_a_plugin_installed_again_gives_its_agents_ids_in_the_session_s_next_namespace(world):
    session = TrainingSession(RecordingAgent())
    entity = spawn("walk", limit=100)
    plugin, _ = installed(session)
    step_world(1)
    plugin.uninstall()
    plugin.install()
    step_world(1)
    assert [ids for _, ids, _ in session.agent.batches] == [[entity], [2**32 + entity]]


def test_a_non_learning_plugin_passes_entity_ids_unchanged_whatever_namespaces_the_session_gave(world):
    session = TrainingSession(RecordingAgent())
    entity = spawn("walk", limit=100)
    installed(session)[0].uninstall()  # the session's first namespace is taken
    plain = RecordingAgent()
    esper.switch_world(world + "-b")
    try:
        other = spawn("walk", limit=100)
        install({"walk": session, "plain": plain}, reset=reset, learning=False)
        bot = spawn("plain", limit=100)
        step_world(1)
    finally:
        esper.switch_world(world)
        esper.delete_world(world + "-b")
    assert session.agent.batches[-1][1] == [other] and plain.batches[-1][1] == [bot]
    assert entity == other  # the same entity id in both worlds


def test_an_episode_end_carries_the_game_s_extras_its_agent_id_and_decisions(world):
    session = TrainingSession(RecordingAgent())
    scored = spawn("walk", limit=4, decision_period=2, agent_id=9)
    esper.add_component(scored, EpisodeInfo({"food": 3.0}))
    plain = spawn("walk", limit=2)
    plugin, ends = installed(session, on_end="delete")
    step_world(5)  # both end once; their deletion (a tick later) ends nothing more
    assert sorted((e.entity, e.policy, e.agent_id, e.status, e.length, e.extras) for e in ends) == sorted([
        (scored, "walk", 9, TERMINATED, 4, {"food": 3.0, "decisions": 2.0}),
        (plain, "walk", plain, TERMINATED, 2, {})])
    assert all(e.total_reward >= e.length for e in ends)
    assert not esper.entity_exists(scored) and not esper.entity_exists(plain)


def test_an_unknown_policy_is_named_with_every_known_one(world):
    entity = spawn("stray", limit=100)
    install({"walk": RecordingAgent(), "other": RecordingAgent()}, reset=reset, learning=False)
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Agent names unknown policy 'stray'; "
                                             r"known: other, walk$"):
        step_world(1)


def test_a_plugin_not_installed_is_in_no_world(world):
    plugin = Plugin({"walk": RecordingAgent()}, reset=reset)
    assert plugin.world is None
    plugin.install()
    assert plugin.world == world
    plugin.uninstall()
    assert plugin.world is None
