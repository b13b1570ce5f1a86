"""PPO checkpoint behaviours a mutation run found unchecked: a rollout saved mid-way, holding a finished episode
and multi-tick transitions, resumes to the same update (its dones and its ``gamma ** ticks`` discounts come back),
and mask rows that were all legal come back as no mask, so the rollout saves again without masks."""

import numpy as np
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import PpoAgent, PpoConfig

from test_algorithms_mutants import ACTIONS, BATCH, OBS


def _agent() -> PpoAgent:
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=6, batch_size=6, n_epochs=2, hidden=(8,), gamma=0.9,
                                             gae_lambda=0.95, seed=5))
    agent.hold_updates = True
    return agent


def _steps(agent: PpoAgent, rows: range) -> None:
    for row in rows:
        action = agent.act(BATCH[row], ActMode.EXPLORE, agent_id=0)
        status = EpisodeStatus.TERMINATED if row == 1 else EpisodeStatus.RUNNING
        agent.observe(Experience(BATCH[row], action, float(row % 3) - 1.0, BATCH[row + 1], status,
                                 agent_id=0, ticks=1 + row % 3))


def test_ppo_resumed_mid_rollout_with_a_finished_episode_and_multi_tick_steps_updates_the_same(tmp_path):
    agent, twin = _agent(), _agent()
    _steps(agent, range(3))
    path = tmp_path / "mid.pt"
    agent.save(path)
    twin.load(path)
    for a in (agent, twin):
        _steps(a, range(3, 6))
        assert a.update_if_due() is True
    for p, q in zip(agent.net.parameters(), twin.net.parameters()):
        torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_ppo_all_legal_mask_rows_load_as_unmasked_and_save_again_without_masks(tmp_path):
    agent = _agent()
    for row in range(2):
        action = agent.act(BATCH[row], ActMode.EXPLORE, agent_id=0, mask=np.ones(3, dtype=bool))
        agent.observe(Experience(BATCH[row], action, 1.0, BATCH[row + 1], EpisodeStatus.RUNNING, agent_id=0))
    first, second = tmp_path / "first.pt", tmp_path / "second.pt"
    agent.save(first)
    assert torch.load(first, weights_only=True)["segments"][0]["masks"].all()
    twin = _agent()
    twin.load(first)
    twin.save(second)
    assert torch.load(second, weights_only=True)["segments"][0]["masks"] is None
