"""DQN and PPO behaviours a mutation run found unchecked: the spread of an episode's losses, transitions whose
actions come as a column, targets for boolean ``terminated`` flags, decisions made elsewhere on a row-shaped
observation."""

import numpy as np
import pytest
import torch

from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig
from ecs_rl.core.types import Transitions

from test_algorithms_mutants import ACTIONS, BATCH, OBS
from test_core_algorithms_mutants2 import _rows


def test_dqn_episode_extras_give_the_spread_of_the_episodes_losses():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), batch_size=4, learning_starts=0, train_freq=1,
                                             target_update_interval=1000, seed=2))
    agent.on_episode_start()
    agent.observe_transitions(_rows(12))
    extras = agent.episode_extras()
    assert {"loss_mean", "loss_std", "loss_max"} <= set(extras)
    std, mean, top = extras["loss_std"], extras["loss_mean"], extras["loss_max"]
    assert np.isfinite(std) and 0.0 < std <= top and mean <= top


def test_dqn_takes_transitions_whose_actions_come_as_a_column():
    config = DqnConfig(hidden=(8,), learning_starts=1000, train_freq=8, target_update_interval=1000, seed=0)
    flat, column = DqnAgent(OBS, ACTIONS, config), DqnAgent(OBS, ACTIONS, config)
    rows = _rows(5)
    flat.observe_transitions(rows)
    column.observe_transitions(Transitions(rows.obs, rows.actions.reshape(5, 1), rows.rewards, rows.next_obs,
                                           rows.status, rows.agent_ids, rows.ticks))
    assert column.replay.size == 5
    assert np.array_equal(column.replay.rows, flat.replay.rows)


def test_dqn_td_targets_take_terminated_as_booleans():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=1))
    rewards, next_obs = np.array([1.0, -2.0, 0.5]), BATCH[:3]
    as_bools = agent.td_targets(rewards, next_obs, np.array([True, False, True]))
    as_floats = agent.td_targets(rewards, next_obs, np.array([1.0, 0.0, 1.0]))
    assert as_bools.dtype == torch.float32 and torch.equal(as_bools, as_floats)
    assert as_bools[0].item() == 1.0 and as_bools[2].item() == 0.5  # terminated: the reward alone
    assert as_bools[1].item() != -2.0


def test_ppo_takes_a_decision_made_elsewhere_on_a_row_shaped_observation():
    config = PpoConfig(n_steps=3, batch_size=3, n_epochs=1, hidden=(8,), seed=5)
    flat, row = PpoAgent(OBS, ACTIONS, config), PpoAgent(OBS, ACTIONS, config)
    for t in range(3):
        for agent, obs in ((flat, BATCH[t]), (row, BATCH[t].reshape(1, 3))):
            agent.decided(0, obs, np.int64(t % 3), -1.1)
            agent.observe(Experience(BATCH[t], t % 3, float(t), BATCH[t + 1], EpisodeStatus.RUNNING))
    assert flat.updates == row.updates == 1
    for a, b in zip(flat.net.parameters(), row.net.parameters()):
        assert torch.equal(a, b)


def test_ppo_refuses_a_decision_made_elsewhere_on_an_observation_of_another_size():
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,)))
    with pytest.raises(ValueError, match=r"agent 0's observation has 4 values \(shape \(4,\)\); the policy's "
                                         r"observations have 3"):
        agent.decided(0, np.zeros(4, dtype=np.float32), np.int64(0), -1.1)


def test_ppo_saves_again_a_checkpoint_holding_a_segment_with_no_rows(tmp_path):
    config = PpoConfig(n_steps=8, batch_size=4, n_epochs=1, hidden=(8,), seed=6)
    agent = PpoAgent(OBS, ACTIONS, config)
    for t in range(2):
        agent.decided(0, BATCH[t], np.int64(1), -1.1)
        agent.observe(Experience(BATCH[t], 1, 1.0, BATCH[t + 1], EpisodeStatus.RUNNING))
    agent.save(tmp_path / "mid.pt")
    data = torch.load(tmp_path / "mid.pt", weights_only=True)  # another writer's file: agent 7 without rows yet
    data["segments"].append({"agent_id": 7, "obs": torch.zeros(0, 3), "actions": torch.zeros(0), "logps": [],
                             "rewards": [], "masks": None, "dones": [], "discounts": [], "last_next_obs": None})
    torch.save(data, tmp_path / "edited.pt")
    resumed = PpoAgent(OBS, ACTIONS, config)
    resumed.load(tmp_path / "edited.pt")
    resumed.save(tmp_path / "again.pt")
    segments = torch.load(tmp_path / "again.pt", weights_only=True)["segments"]
    assert [(s["agent_id"], tuple(s["obs"].shape)) for s in segments] == [(0, (2, 3)), (7, (0, 3))]
    PpoAgent(OBS, ACTIONS, config).load(tmp_path / "again.pt")
