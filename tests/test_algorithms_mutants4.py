"""Behaviours of export and PPO that a mutation run found unchecked: the export check's tolerance, the
error for an action space that does not export, bootstrapping an open segment, saving a departed agent's."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from exported import make_policy
from test_algorithms import OBS4, constant_head

from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import GreedyPolicy, PpoAgent, PpoConfig
from ecs_rl.algorithms.export import ExportError, check_same_actions, export_policy


def test_the_export_check_refuses_box_actions_ten_percent_off(tmp_path):
    policy = make_policy("ppo-box", seed=2)
    path = tmp_path / "box.npz"
    assert export_policy(policy, path, verify=200)  # the file acts as the policy it was written from
    other = GreedyPolicy(policy.network, policy.obs_dim, policy.action_space)
    with torch.no_grad():  # the same network with its mean actions 10% larger (before clipping)
        other.network[-1].weight.mul_(1.1)
        other.network[-1].bias.mul_(1.1)
    with pytest.raises(ExportError, match=rf"^{tmp_path / 'box.npz'}: the exported policy acts differently from "
                                          r"the checkpoint's network \(on 200 random observations\)"):
        check_same_actions(other, path, 200)


def test_an_action_space_that_does_not_export_is_named_in_the_error(tmp_path):
    policy = make_policy("dqn", actions=gym.spaces.Discrete(5))
    odd = GreedyPolicy(policy.network, policy.obs_dim, gym.spaces.MultiDiscrete([2, 3]))
    with pytest.raises(ExportError, match=r"^action space MultiDiscrete\(\[2 3\]\) does not export "
                                          r"\(Discrete and Box do\)$"):
        export_policy(odd, tmp_path / "odd.npz")
    assert not list(tmp_path.iterdir())


def _ppo(n_steps=100):
    agent = PpoAgent(OBS4, gym.spaces.Discrete(2), PpoConfig(n_steps=n_steps, gamma=0.9, gae_lambda=0.5, seed=0))
    constant_head(agent.net.critic, [3.0])  # V(s) = 3 everywhere
    return agent


def _step(agent, agent_id, reward, status=EpisodeStatus.RUNNING, obs=None):
    obs = np.zeros(4, dtype=np.float32) if obs is None else obs
    agent.act_batch(obs[None], agent_ids=[agent_id])
    agent.observe(Experience(obs, 0, reward, obs + 1, status, agent_id=agent_id))


def test_ppo_bootstraps_a_segment_still_open_at_the_update_from_its_last_next_obs():
    agent = _ppo()
    _step(agent, 4, 1.0)
    _step(agent, 4, 2.0)  # the episode goes on: the last row's next value is V(last next_obs) = 3
    _, _, _, adv, returns = agent._advantages()
    a1 = 2.0 + 0.9 * 3.0 - 3.0
    a0 = 1.0 + 0.9 * 3.0 - 3.0 + 0.9 * 0.5 * a1
    assert adv.tolist() == pytest.approx([a0, a1], abs=1e-6)
    assert returns.tolist() == pytest.approx([a0 + 3.0, a1 + 3.0], abs=1e-6)


def test_ppo_saved_after_an_agent_left_keeps_its_closed_segment(tmp_path):
    agent = _ppo()
    for t in range(3):
        _step(agent, 1, float(t), obs=np.full(4, t, dtype=np.float32))
    agent.forget(1)  # agent 1 left mid-episode: its transitions wait in the rollout for the update
    _step(agent, 2, 5.0)
    agent.save(tmp_path / "ppo.pt")
    resumed = _ppo()
    resumed.load(tmp_path / "ppo.pt")
    assert [s.rewards for s in resumed._closed] == [[0.0, 1.0, 2.0]]
    for ours, theirs in zip(resumed._advantages(), agent._advantages()):
        np.testing.assert_array_equal(ours, theirs)
