"""Behaviours of the plugin's agent table (``ecs_rl.ecs.lifecycle.Lifecycle``) that mutation testing found
unchecked: a held action made illegal (each time, by whom, under which mask, for which policies), resets,
departures, arrivals and the agent ids they free."""

import re

import esper
import gymnasium as gym
import numpy as np
import pytest
from test_ecs_mutants2 import Masked
from walk_world import OBS_SPACE, At, RecordingAgent, reset, spawn

from ecs_rl import EpisodeStatus, RandomAgent, TrainingSession
from ecs_rl.ecs import (
    Action, ActionMask, Agent, ComponentError, Done, EpisodeTracker, Observation, ResetRequest, Reward,
    ScriptedController, install, step_world,
)

RUNNING, TERMINATED, TRUNCATED = EpisodeStatus.RUNNING, EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED


class ForbidHeld(esper.Processor):
    """A game processor that, from tick ``start`` on, makes each listed entity's held action illegal every tick."""

    def __init__(self, *entities, start=1, n=2, first=0):
        self.entities, self.start, self.n, self.first, self.tick = entities, start, n, first, 0

    def process(self, *args, **kwargs):
        self.tick += 1
        if self.tick < self.start:
            return
        for entity in self.entities:
            if not esper.entity_exists(entity):
                continue
            held = int(esper.component_for_entity(entity, Action).value)
            esper.component_for_entity(entity, ActionMask).value = np.arange(self.n) + self.first != held


def masked(entity, n=2):
    esper.add_component(entity, ActionMask(np.ones(n, dtype=bool)))
    return entity


def test_each_decision_closed_early_by_an_illegal_held_action_counts_once(world):
    entity = masked(spawn("walk", limit=100, decision_period=5))
    esper.add_processor(ForbidHeld(entity), -10)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(4)  # a decision at each tick; the ones of ticks 1-3 close early at ticks 2-4
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    assert tracker.decisions == 3 and tracker.length == 4
    assert [(e.ticks, e.status) for e in session.agent.experiences] == [(1, RUNNING)] * 3


def test_a_decision_closed_early_hands_the_learner_every_field_of_its_transition(world):
    entity = masked(spawn("walk", limit=100, decision_period=5, agent_id=7))
    esper.add_processor(ForbidHeld(entity, start=2), -10)  # legal on tick 1: the first decision spans two ticks
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(2)
    first_action = int(esper.component_for_entity(entity, Action).value)
    step_world(1)  # tick 3: the held action is illegal: the decision of tick 1 closes after its two ticks
    (first,) = session.agent.experiences
    assert first.obs.tolist() == [0.0, 0.0] and int(first.action) == first_action
    assert first.reward == 2 * (1 + first_action) and first.next_obs.tolist() == [2.0, 0.0]
    assert (first.status, first.agent_id, first.ticks) == (RUNNING, 7, 2)
    assert first.next_mask.dtype == np.bool_ and first.next_mask.tolist() == [a != first_action for a in range(2)]
    assert int(esper.component_for_entity(entity, Action).value) != first_action  # decided again, legally


def test_a_held_action_still_legal_or_of_an_unmasked_entity_is_kept_for_the_whole_period(world):
    legal = masked(spawn("walk", limit=100, decision_period=3))
    unmasked = spawn("walk", limit=100, tag=1.0, decision_period=3)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(6)
    assert [ids for _, ids, _ in session.agent.batches] == [[legal, unmasked]] * 2
    assert [e.ticks for e in session.agent.experiences] == [3] * 4


def test_a_controller_keeps_its_action_for_the_period_even_when_the_game_masks_it(world):
    entity = masked(spawn("bot", limit=100, decision_period=3))
    esper.add_processor(ForbidHeld(entity), -10)
    calls = []
    install({"bot": ScriptedController(lambda obs, e: calls.append(e) or 0, gym.spaces.Discrete(2))}, reset=reset)
    step_world(6)
    assert calls == [entity] * 2


def test_a_held_action_of_a_discrete_space_not_starting_at_zero_is_checked_at_its_index(world):
    entity = masked(spawn("walk", limit=100, decision_period=4))
    esper.add_processor(ForbidHeld(entity, first=1), -10)
    agent = Masked()
    agent.action_space = gym.spaces.Discrete(2, start=1, seed=0)
    session = TrainingSession(agent)
    install({"walk": session}, reset=reset)
    step_world(3)
    assert [e.ticks for e in agent.experiences] == [1, 1]
    assert all(int(e.action) in (1, 2) and e.next_mask.tolist() == [e.action != 1, e.action != 2]
               for e in agent.experiences)


def test_a_malformed_mask_given_mid_period_is_refused_when_the_held_action_s_period_ends(world):
    entity = masked(spawn("walk", limit=100, decision_period=3))
    esper.add_processor(At(1, lambda: setattr(esper.component_for_entity(entity, ActionMask), "value",
                                              [False, False])), -10)
    install({"walk": TrainingSession(Masked())}, reset=reset)
    step_world(2)  # the held action is kept: a list is no mask to judge it by
    with pytest.raises(ComponentError, match=rf"^entity {entity}: ActionMask \(next\) must be a bool numpy array "):
        step_world(1)  # its period ends: the mask is read as the next state's


def test_a_mask_given_mid_period_to_a_box_action_agent_is_refused_when_its_period_ends(world):
    entity = spawn("arm", limit=100, decision_period=3)
    agent = RandomAgent(gym.spaces.Box(-1.0, 1.0, (), np.float32), seed=0)
    agent.observation_space = OBS_SPACE
    esper.add_processor(At(1, lambda: masked(entity)), -10)
    install({"arm": TrainingSession(agent)}, reset=reset)
    step_world(2)  # the held action is kept: there is no index of a Box action to look up in a mask
    with pytest.raises(ComponentError, match=rf"^entity {entity}: has an ActionMask but policy 'arm' has action "
                                             r"space Box\(-1.0, 1.0, \(\), float32\); action masks need a Discrete"):
        step_world(1)  # its period ends: the mask is read as the next state's


def test_done_set_before_decide_on_an_illegal_held_action_ends_the_decision_as_the_game_said(world):
    entity = masked(spawn("walk", limit=100, decision_period=3))
    esper.add_processor(ForbidHeld(entity), -10)
    esper.add_processor(At(2, lambda: setattr(esper.component_for_entity(entity, Done), "terminated", True)), 200)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(2)
    assert [(e.ticks, e.status) for e in session.agent.experiences] == [(2, TERMINATED)]


def test_without_learning_a_decision_closed_early_is_not_learned_from(world):
    entity = masked(spawn("walk", limit=100, decision_period=5))
    esper.add_processor(ForbidHeld(entity), -10)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset, learning=False)
    step_world(4)
    assert len(session.agent.batches) == 4 and session.agent.experiences == []


def test_a_bad_observation_of_a_policy_without_a_session_is_named_as_the_one_it_decides_on(world):
    """No transition is learned when a plain agent's decision closes early, so the observation is read once,
    when it decides again, and named as that (not as a next observation)."""
    entity = masked(spawn("walk", limit=100, decision_period=5))
    esper.add_processor(ForbidHeld(entity), -10)
    esper.add_processor(At(1, lambda: setattr(esper.component_for_entity(entity, Observation), "value",
                                              np.array([np.nan, 0.0], dtype=np.float32))), -20)
    install({"walk": Masked()}, reset=reset)
    step_world(1)
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Observation is not finite"):
        step_world(1)


def test_an_agent_deleted_before_decide_with_an_illegal_held_action_adds_no_step(world):
    """A game processor before decide deletes it: its decision closes, it sits the tick out (no step), and a
    processor reading its tracker in that tick sees it waiting for nothing (False)."""
    entity = masked(spawn("walk", limit=100, decision_period=5))
    esper.add_processor(ForbidHeld(entity), -10)
    esper.add_processor(At(2, lambda: esper.delete_entity(entity)), 200)
    seen = []
    esper.add_processor(At(2, lambda: seen.append(esper.component_for_entity(entity, EpisodeTracker).waiting)), 50)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    step_world(3)
    assert seen == [False] and seen[0] is False
    assert [(e.ticks, e.status) for e in session.agent.experiences] == [(1, RUNNING)]
    assert session.total_episodes == 1


# -- departures ---------------------------------------------------------------------------------------------------

def test_an_agent_deleted_between_ticks_ends_an_episode_event_with_every_field(world):
    walker = spawn("walk", limit=100, agent_id=7, decision_period=2)
    unborn = spawn("walk", limit=100, tag=1.0)
    session = TrainingSession(RecordingAgent())
    plugin = install({"walk": session}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    esper.delete_entity(unborn, immediate=True)  # before its first tick: no episode to end
    step_world(3)
    total = esper.component_for_entity(walker, EpisodeTracker).total_reward
    esper.delete_entity(walker, immediate=True)  # mid-decision, outside the tick: truncated, no step of its own
    step_world(1)
    (end,) = ends
    assert (end.entity, end.policy, end.agent_id, end.status) == (walker, "walk", 7, TRUNCATED)
    assert (end.total_reward, end.length) == (total, 3) and total >= 3
    assert end.extras == {"entity_removed": 1.0, "decisions": 1.0}
    assert len(session.agent.experiences) == 1 and session.agent.forgotten == [7]


def test_an_agent_deleted_after_its_first_tick_ends_an_episode_of_length_one(world):
    entity = spawn("walk", limit=100)
    plugin = install({"walk": RecordingAgent()}, reset=reset)  # a policy without a session: nothing to forget
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(1)
    esper.delete_entity(entity, immediate=True)
    step_world(1)
    assert [(e.entity, e.agent_id, e.status, e.length, e.extras) for e in ends] == [
        (entity, entity, TRUNCATED, 1, {"entity_removed": 1.0})]


def test_without_learning_a_departed_agent_is_not_forgotten_by_its_session(world):
    entity = spawn("walk", limit=100)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset, learning=False)
    step_world(2)
    esper.delete_entity(entity, immediate=True)
    step_world(1)
    assert session.agent.forgotten == [] and session.agent.experiences == []


def test_an_agent_deleted_at_once_in_the_tick_ends_an_episode_event_naming_it(world):
    entity = spawn("walk", limit=100, agent_id=4)
    esper.add_processor(At(2, lambda: esper.delete_entity(entity, immediate=True)), -10)
    session = TrainingSession(RecordingAgent())
    plugin = install({"walk": session}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(2)
    assert [(e.entity, e.agent_id, e.status, e.length, e.extras) for e in ends] == [
        (entity, 4, TRUNCATED, 2, {"entity_removed": 1.0})]
    assert [e.status for e in session.agent.experiences] == [RUNNING, TRUNCATED]
    assert session.agent.forgotten == [4]


def test_a_team_change_in_the_tick_ends_the_old_episode_without_a_step_of_its_own(world):
    """The entity still exists: its last tick belongs to no transition of the old agent's, and the new agent's
    episode starts fresh."""
    entity = spawn("walk", limit=100)
    esper.add_processor(At(2, lambda: esper.add_component(entity, Agent("walk", agent_id=7))), -10)
    session = TrainingSession(RecordingAgent())
    plugin = install({"walk": session}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(2)
    assert [(e.entity, e.agent_id, e.status, e.length) for e in ends] == [(entity, entity, TRUNCATED, 1)]
    assert [(e.agent_id, e.status) for e in session.agent.experiences] == [(entity, RUNNING)]
    assert esper.component_for_entity(entity, EpisodeTracker).length == 0
    step_world(1)
    assert [e.agent_id for e in session.agent.experiences] == [entity, 7]


# -- arrivals -----------------------------------------------------------------------------------------------------

def test_an_agent_arrives_with_its_reward_zeroed_and_a_fractional_id_refused(world):
    entity = spawn("walk", limit=100)
    esper.component_for_entity(entity, Reward).value = 5.0  # left from before it was an agent
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset)
    step_world(1)
    (first,) = session.agent.experiences
    assert first.reward == 1 + first.action
    bad = spawn("walk", limit=100, agent_id=3.0)
    with pytest.raises(ComponentError, match=re.escape(f"entity {bad}: Agent.agent_id must be a whole number in "
                                                       "[0, 2**32), got 3.0")):
        step_world(1)


def test_an_entity_lacking_agent_components_is_told_exactly_which(world):
    install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    entity = esper.create_entity(Agent("walk"), Observation(np.zeros(2, dtype=np.float32)))
    with pytest.raises(ComponentError, match=re.escape(f"entity {entity}: has Agent but lacks Action, Reward, Done, "
                                                       "EpisodeTracker (create agents with ecs_rl.ecs.agent_components)")):
        step_world(1)


# -- resets -------------------------------------------------------------------------------------------------------

def test_a_reset_calls_the_hook_with_the_entity_and_seed_and_starts_a_clean_episode(world):
    entity = spawn("walk", limit=2)
    calls = []
    seen = []

    def hook(e, seed):
        calls.append((e, seed))
        reset(e, seed)
        esper.component_for_entity(e, Reward).value = 3.0  # a hook that leaves a reward behind: it is not counted

    esper.add_processor(At(2, lambda: seen.append(esper.component_for_entity(entity, Done).terminated)), -400)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=hook)
    step_world(2)  # the episode terminates at tick 2 and is reset after the record processor
    done = esper.component_for_entity(entity, Done)
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    assert calls == [(entity, None)] and seen == [False]
    assert done.terminated is False and done.truncated is False and tracker.episodes == 1
    step_world(1)
    assert session.agent.experiences[-1].reward == 1 + session.agent.experiences[-1].action
    esper.add_component(entity, ResetRequest(seed=7))
    step_world(1)
    assert calls == [(entity, None), (entity, 7)] and tracker.episodes == 2


def test_a_reset_request_without_a_reset_hook_says_install_needs_one(world):
    entity = spawn("walk", limit=100)
    install({"walk": TrainingSession(RecordingAgent())}, on_end="delete")
    step_world(1)
    esper.add_component(entity, ResetRequest())
    with pytest.raises(ComponentError, match=re.escape(f"entity {entity}: a ResetRequest needs the game's reset hook "
                                                       "(install(..., reset=hook))")):
        step_world(1)


def test_a_reset_asked_of_the_table_without_saying_requested_deletes_under_on_end_delete(world):
    entity = spawn("walk", limit=100)
    plugin = install({"walk": TrainingSession(RecordingAgent())}, reset=reset, on_end="delete")
    plugin.life.reset(entity, None)
    step_world(1)
    assert not esper.entity_exists(entity)


def test_an_agent_id_whose_holder_ends_an_episode_to_be_reset_stays_taken(world):
    """Under ``on_end="reset"`` an entity whose episode ended lives on under its id: a new entity given that id
    in the same tick is refused, naming both."""
    first = spawn("walk", limit=100, agent_id=3)
    spawned = []

    def die_and_respawn():
        esper.component_for_entity(first, Done).terminated = True
        spawned.append(spawn("walk", limit=100, agent_id=3))

    esper.add_processor(At(2, die_and_respawn), -10)
    install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    step_world(1)
    with pytest.raises(ComponentError, match=r"^entity \d+: agent_id 3 of policy 'walk' is already used by live "
                                             rf"entity {first}; a respawned entity may reuse an id only once"):
        step_world(1)
    assert spawned


def test_an_arriving_agent_of_an_unknown_policy_is_named(world):
    install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    stray = spawn("nobody", limit=100)
    with pytest.raises(ComponentError, match=rf"^entity {stray}: Agent names unknown policy 'nobody'; known: walk$"):
        step_world(1)


def test_an_agent_deleted_between_episodes_or_on_the_tick_it_came_ends_no_episode(world):
    ended = spawn("walk", limit=2)
    late = []
    esper.add_processor(At(2, lambda: late.append(spawn("walk", limit=100, tag=1.0))), -10)  # known at record
    plugin = install({"walk": RecordingAgent()}, reset=reset)
    ends = []
    plugin.on_episode_end(ends.append)
    step_world(2)  # ended's episode terminates and it is reset (length 0); late arrives, not yet stepped
    assert [(e.entity, e.status, e.length) for e in ends] == [(ended, TERMINATED, 2)]
    esper.delete_entity(ended, immediate=True)
    esper.delete_entity(late[0], immediate=True)
    step_world(1)
    assert len(ends) == 1


@pytest.mark.parametrize("on_end", ["reset", "delete"])
def test_an_agent_id_is_free_for_a_respawn_in_the_tick_its_holder_is_deleted_or_dies_under_on_end_delete(
        world, on_end):
    dies, deleted = spawn("walk", limit=100, agent_id=3), spawn("walk", limit=100, agent_id=4)
    spawned = []

    def go_and_respawn():
        esper.delete_entity(deleted)  # gone at the end of the tick: its id is free now
        spawned.append(spawn("walk", limit=100, agent_id=4))
        if on_end == "delete":  # its episode ends and it will be deleted: its id is free now
            esper.component_for_entity(dies, Done).terminated = True
            spawned.append(spawn("walk", limit=100, agent_id=3))

    esper.add_processor(At(2, go_and_respawn), -10)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset, on_end=on_end)
    step_world(3)
    assert all(esper.entity_exists(e) for e in spawned) and not esper.entity_exists(deleted)
    assert esper.entity_exists(dies) == (on_end == "reset")
    assert sorted(session.agent.batches[-1][1]) == [3, 4]


def test_a_masked_agent_whose_policy_name_changed_mid_period_is_named(world):
    entity = masked(spawn("walk", limit=100, decision_period=3))
    esper.add_processor(At(1, lambda: setattr(esper.component_for_entity(entity, Agent), "policy", "nope")), -10)
    install({"walk": TrainingSession(Masked())}, reset=reset)
    step_world(1)
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Agent names unknown policy 'nope'; known: walk$"):
        step_world(1)
