"""Policy-entry and record behaviours that mutation testing found unchecked: the cast warning said once per
policy across dtypes, the whole message refusing masks for a policy with no action space, and a bad mask at
a transition's next state named as the next one."""

import warnings

import esper
import numpy as np
import pytest
from test_ecs_mutants2 import Masked
from walk_world import At, RecordingAgent, reset, spawn

from ecs_rl import TrainingSession
from ecs_rl.ecs import ActionMask, ComponentError, Observation, install, step_world
from ecs_rl.ecs.policies import ObservationCastWarning


def test_the_cast_warning_is_said_once_per_policy_even_for_a_second_dtype(world):
    wide, whole = spawn("walk", limit=100), spawn("walk", limit=100)
    esper.component_for_entity(wide, Observation).value = np.array([0.0, 0.0], dtype=np.float64)
    esper.component_for_entity(whole, Observation).value = np.array([0, 0], dtype=np.int64)
    session = TrainingSession(RecordingAgent())
    install({"walk": session}, reset=reset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step_world(1)
    cast = [str(w.message) for w in caught if issubclass(w.category, ObservationCastWarning)]
    assert len(cast) == 1 and cast[0].startswith(f"policy 'walk': entity {wide}'s Observation has dtype float64")
    assert session.agent.batches[0][0].dtype == np.float32  # both cast all the same


def test_a_masked_policy_without_an_action_space_is_told_it_must_say_its_discrete_space(world):
    class NoSpace:  # takes masks but never says its action space
        def act_batch(self, obs, mode, ids, masks=None):
            return np.zeros(len(obs), dtype=np.int64)

    entity = spawn("walk", limit=100)
    esper.add_component(entity, ActionMask(np.ones(2, dtype=bool)))
    install({"walk": NoSpace()}, reset=reset)
    with pytest.raises(ComponentError) as info:
        step_world(1)
    assert str(info.value) == (f"entity {entity}: has an ActionMask but policy 'walk' has no action_space attribute; "
                               "a masked policy must say its Discrete action space")


def test_a_wrong_mask_at_a_live_agents_next_state_is_named_as_its_next_mask(world):
    entity = spawn("walk", limit=100)
    esper.add_component(entity, ActionMask(np.ones(2, dtype=bool)))

    def widen_the_mask():  # the game writes a mask of the wrong shape between decide and record
        esper.component_for_entity(entity, ActionMask).value = np.ones(3, dtype=bool)

    esper.add_processor(At(2, widen_the_mask), -10)
    session = TrainingSession(Masked())
    install({"walk": session}, reset=reset)
    with pytest.raises(ComponentError,
                       match=rf"^entity {entity}: ActionMask \(next\) must be a bool numpy array of shape \(2,\) "):
        step_world(2)
    assert len(session.agent.experiences) == 1  # the first tick's transition went through; the second was refused
