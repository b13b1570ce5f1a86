"""Behaviours of the esper plugin a mutation run found unchecked (eighth sample): how despawn leaves ``Done``,
install's messages for a bad ``on_end`` or reset hook, a controller's non-integer action, and an exported
policy's input size checked against the first observation."""

import re

import esper
import gymnasium as gym
import numpy as np
import pytest
from exported import make_policy
from walk_world import ACT_SPACE, At, RecordingAgent, reset, spawn

from ecs_rl import TrainingSession
from ecs_rl.algorithms.export import export_policy
from ecs_rl.ecs import ComponentError, Done, ScriptedController, despawn, install, step_world


def test_despawn_leaves_done_saying_died_or_left_for_the_game_processors_after_it(world):
    """Later game processors of the tick (a HUD, a score keeper) read how the agent went from its ``Done``."""
    dies, leaves = spawn("walk", limit=100), spawn("walk", limit=100)
    seen = {}
    esper.add_processor(At(2, lambda: (despawn(dies, terminated=True), despawn(leaves))), -10)
    esper.add_processor(At(2, lambda: seen.update(
        {e: (esper.component_for_entity(e, Done).terminated, esper.component_for_entity(e, Done).truncated)
         for e in (dies, leaves)})), -20)
    install({"walk": TrainingSession(RecordingAgent())}, reset=reset)
    step_world(2)
    assert seen[dies] == (True, False) and seen[dies][1] is False
    assert seen[leaves] == (False, True) and seen[leaves][1] is True
    step_world(1)
    assert not esper.entity_exists(dies) and not esper.entity_exists(leaves)


def test_install_names_a_bad_on_end_and_a_reset_hook_that_is_not_callable(world):
    session = TrainingSession(RecordingAgent())
    with pytest.raises(ValueError, match=r"^on_end must be 'reset' or 'delete', got 'remove'$"):
        install({"walk": session}, reset=reset, on_end="remove")
    with pytest.raises(TypeError, match=r"^reset must be the game's reset hook reset\(entity, seed\), got 'reset'$"):
        install({"walk": session}, reset="reset")


def test_a_controller_s_fractional_action_for_a_discrete_space_is_refused_naming_the_entity(world):
    entity = spawn("bot", limit=100)
    install({"bot": ScriptedController(lambda obs, e: 1.5, ACT_SPACE)}, reset=reset)
    with pytest.raises(ComponentError, match=rf"^entity {entity}: Action 1.5 from controller 'bot' is outside "
                                             r"the action space Discrete\(2\)$"):
        step_world(1)


def test_an_exported_policy_names_the_entity_whose_first_observation_has_another_size(world, tmp_path):
    """An exported file knows only its input size (no observation space): the first observation is checked
    against it, so the error names the entity rather than coming from inside the network."""
    path = tmp_path / "three.npz"
    export_policy(make_policy("dqn", obs_space=gym.spaces.Box(-1, 1, (3,), np.float32), actions=ACT_SPACE), path)
    entity = spawn("walk", limit=100)  # observations of 2 numbers
    install({"walk": str(path)}, reset=reset, learning=False)
    with pytest.raises(ComponentError, match=re.escape(f"entity {entity}: Observation has shape (2,) (2 numbers), "
                                                       "policy 'walk' reads 3")):
        step_world(1)
