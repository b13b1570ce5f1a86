"""Behaviours of the esper plugin's installed object a mutation run found unchecked: what a policy acts with,
evaluation, install and uninstall, freezing and unfreezing, progress and the done signal."""

import esper
import pytest
from walk_world import RecordingAgent, reset, spawn

from ecs_rl import TrainingSession
from ecs_rl.ecs import install


def test_acting_names_an_unknown_policy_and_every_known_one(world):
    session = TrainingSession(RecordingAgent())
    plugin = install({"walk": session, "other": TrainingSession(RecordingAgent())}, reset=reset)
    assert plugin.acting("walk") is session
    with pytest.raises(ValueError, match=r"^no policy 'run' in this plugin; known: walk, other$"):
        plugin.acting("run")
