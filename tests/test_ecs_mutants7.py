"""Plugin behaviours that mutation testing found unchecked: a frozen agent without ``to_policy`` acts greedily
with its agents' ids even when masked, a controller's decision starts its reward sum at zero, and only an int
``obs_dim`` is read as a policy's input size; the rewards of a tick's transitions are float64 as
``Transitions`` says, whatever number type the decision's reward sum holds."""

import esper
import numpy as np
from test_ecs_mutants2 import Masked
from walk_world import ACT_SPACE, At, RecordingAgent, reset, spawn

from ecs_rl import ActMode, TrainingSession
from ecs_rl.ecs import ActionMask, EpisodeTracker, ScriptedController, install, step_world


def test_a_masked_agent_frozen_without_to_policy_acts_greedily_with_its_agents_ids(world):
    entities = [spawn("walk", limit=100, tag=float(i), agent_id=10 + i) for i in range(2)]
    for entity in entities:
        esper.add_component(entity, ActionMask(np.array([True, False])))
    session = TrainingSession(Masked())
    plugin = install({"walk": session}, reset=reset)
    step_world(1)
    learning_ids = session.agent.batches[-1][1]
    plugin.freeze("walk")  # Masked has no to_policy(): the agent itself acts, greedily
    step_world(1)
    obs, ids, mode = session.agent.batches[-1]
    assert len(session.agent.batches) == 2 and mode == ActMode.EXPLOIT
    assert ids == learning_ids and len(set(ids)) == 2  # the same actors, not anonymous ones
    assert obs[:, 0].tolist() == [1.0, 1.0]


def test_a_controllers_decision_sums_its_reward_from_zero(world):
    entity = spawn("bot", limit=100, decision_period=3)
    install({"bot": ScriptedController(lambda obs, e: 1, ACT_SPACE)}, reset=reset)
    tracker = esper.component_for_entity(entity, EpisodeTracker)
    step_world(1)  # reward 1 + action = 2 per tick
    assert (tracker.decision_reward, tracker.ticks_since_decision) == (2.0, 1)
    step_world(3)  # the first decision closes after 3 ticks; the second one has run one tick
    assert (tracker.decision_reward, tracker.ticks_since_decision) == (2.0, 1)
    assert tracker.total_reward == 8.0


def test_an_obs_dim_that_is_not_an_int_is_not_read_as_the_input_size(world):
    class Shaped:  # says its observation's shape under the name obs_dim, and no observation_space
        action_space = ACT_SPACE
        obs_dim = (2,)

        def __init__(self):
            self.seen = []

        def act_batch(self, obs, mode, ids):
            self.seen.append(np.array(obs))
            return np.zeros(len(obs), dtype=np.int64)

    policy = Shaped()
    spawn("walk", limit=100)
    install({"walk": policy}, reset=reset)
    step_world(2)
    assert [o.tolist() for o in policy.seen] == [[[0.0, 0.0]], [[1.0, 0.0]]]


def test_the_rewards_handed_to_a_learner_are_float64_even_from_a_float32_reward_sum(world):
    class Arrays(RecordingAgent):  # takes the plugin's per-tick arrays as they are
        def observe_transitions(self, batch):
            self.experiences.append(batch)

    entity = spawn("walk", limit=100)

    def game_keeps_float32():  # a game that rewrites the decision's reward sum with a numpy float32
        esper.component_for_entity(entity, EpisodeTracker).decision_reward = np.float32(0.25)

    esper.add_processor(At(1, game_keeps_float32), -10)
    session = TrainingSession(Arrays())
    install({"walk": session}, reset=reset)
    step_world(1)
    (batch,) = session.agent.experiences
    assert batch.rewards.dtype == np.float64
    assert batch.rewards.tolist() == [0.25 + 1.0 + float(batch.actions[0])]
