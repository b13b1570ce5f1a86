"""Continuous-action checkpoints, the denormal warning and DQN's next-mask message, as a mutation run found unchecked."""

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import ecs_rl
from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig, configure_torch, torch_settings
from ecs_rl.algorithms.common import load_checkpoint
from ecs_rl.algorithms.policy import GreedyPolicy

from test_algorithms_mutants import ACTIONS, BATCH, OBS

BOX_ACTIONS = gym.spaces.Box(np.array([-2.0, 0.0], dtype=np.float32), np.array([1.0, 3.0], dtype=np.float32))


def test_a_continuous_ppo_checkpoint_holds_its_box_and_loads_as_a_greedy_policy(tmp_path):
    PpoAgent(OBS, BOX_ACTIONS, PpoConfig(hidden=(8,), seed=2)).save(tmp_path / "ppo.pt")
    stored = load_checkpoint(tmp_path / "ppo.pt", "ppo")["action_space"]
    assert stored["kind"] == "box" and stored["dtype"] == "float32"
    policy = GreedyPolicy.load(tmp_path / "ppo.pt")
    assert policy.action_space == BOX_ACTIONS
    actions = policy.act_batch(BATCH)
    assert actions.shape == (len(BATCH), 2)
    assert (actions >= BOX_ACTIONS.low).all() and (actions <= BOX_ACTIONS.high).all()


def test_configure_torch_warns_at_the_callers_line_when_the_cpu_cannot_flush_denormals(monkeypatch):
    before = torch_settings()
    try:
        configure_torch(None, flush_denormal=False)
        # a CPU without SSE3 (this one has it): torch reports that flushing could not be switched on
        monkeypatch.setattr(torch, "set_flush_denormal", lambda on: False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            previous = configure_torch(None, flush_denormal=True)
        assert previous.flush_denormal is False
        [warning] = caught
        assert warning.category is RuntimeWarning
        assert "cannot flush denormals to zero" in str(warning.message)
        # stacklevel points at the caller (this file; mutmut's trampoline when it runs the tests), not at ecs_rl
        assert not Path(warning.filename).resolve().is_relative_to(Path(ecs_rl.__file__).resolve().parent)
    finally:
        monkeypatch.undo()
        configure_torch(before.num_threads, before.flush_denormal)


def test_dqn_observe_refuses_a_next_mask_with_no_legal_action_at_a_running_state():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), learning_starts=100))
    empty = np.zeros(3, dtype=bool)
    with pytest.raises(ValueError, match="^next_mask of agent 7 allows no action at a state that is not terminal$"):
        agent.observe(Experience(BATCH[0], 1, 0.5, BATCH[1], EpisodeStatus.RUNNING, agent_id=7, next_mask=empty))
    agent.observe(Experience(BATCH[0], 1, 0.5, BATCH[1], EpisodeStatus.TERMINATED, agent_id=7, next_mask=empty))
    assert agent.replay.size == 1  # at a terminal state no action needs to be legal
