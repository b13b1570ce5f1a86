"""PPO's sampling dtypes, its refusal of a non-Box observation space, action masks and advantage
normalisation through the update's minibatches, and the config a checkpoint records."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import PpoAgent, PpoConfig
from ecs_rl.algorithms.common import load_checkpoint
from ecs_rl.algorithms.ppo import ActorCritic

from test_algorithms_mutants import ACTIONS, OBS, masked_rollout

BOX_ACTIONS = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


def test_continuous_sampling_gives_float32_actions_and_their_log_probs():
    net = ActorCritic(3, 2, True, (8,), log_std_init=-0.5)
    obs = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32))
    with torch.no_grad():
        actions, logp = net.sample(obs, np.random.default_rng(1))
        want, _ = net.log_prob_entropy(obs, torch.from_numpy(actions))
        again, _ = net.sample(obs, np.random.default_rng(1))
    assert actions.shape == (5, 2) and logp.shape == (5,)
    assert actions.dtype == np.float32 and logp.dtype == np.float32
    np.testing.assert_allclose(logp, want.numpy(), rtol=1e-5, atol=1e-5)
    assert np.array_equal(actions, again)


@pytest.mark.parametrize("space", [gym.spaces.Discrete(3), gym.spaces.MultiBinary(3)])
def test_ppo_refuses_a_non_box_observation_space_naming_it(space):
    with pytest.raises(TypeError, match=r"^PPO observation_space must be a gymnasium Box space, got "):
        PpoAgent(space, ACTIONS)


def test_ppo_refuses_an_action_space_neither_discrete_nor_box_naming_it():
    with pytest.raises(TypeError, match=r"PPO needs a Discrete or Box action space, got MultiBinary"):
        PpoAgent(OBS, gym.spaces.MultiBinary(2))


@pytest.mark.parametrize("ent_coef", [0.0, 0.01])
@pytest.mark.parametrize("batch_size", [8, 4, 3])
def test_ppo_update_trains_each_row_under_the_mask_it_was_sampled_with(ent_coef, batch_size):
    # learning rate 0: the network never moves, so every row's ratio is exactly 1 under the right mask
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=8, batch_size=batch_size, n_epochs=2, learning_rate=0.0,
                                             ent_coef=ent_coef, hidden=(8,), seed=2))
    masked_rollout(agent, 8)
    assert agent.updates == 1
    extras = agent.episode_extras()
    assert extras["approx_kl"] == pytest.approx(0.0, abs=1e-7)
    assert extras["clip_fraction"] == 0.0


def _plain_rollout(agent, steps):
    rng = np.random.default_rng(5)
    for _ in range(steps):
        obs = rng.uniform(-1, 1, 3).astype(np.float32)
        action = agent.act(obs, ActMode.EXPLORE)
        agent.observe(Experience(obs, action, float(action == 2) + rng.normal(), rng.uniform(-1, 1, 3).astype(np.float32),
                                 EpisodeStatus.RUNNING))


def _policy_loss(n_steps, batch_size, normalize=True):
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=n_steps, batch_size=batch_size, n_epochs=1, learning_rate=0.0,
                                             ent_coef=0.0, normalize_advantage=normalize, hidden=(8,), seed=1))
    _plain_rollout(agent, n_steps)
    assert agent.updates == 1
    return agent.episode_extras()["policy_loss"]


@pytest.mark.parametrize("n_steps,batch_size", [(4, 2), (6, 3), (4, 4), (2, 8)])
def test_ppo_normalises_advantages_in_each_minibatch_of_two_or_more_rows(n_steps, batch_size):
    # ratio 1 and normalised advantages (mean 0 in every minibatch): the policy loss is 0
    assert _policy_loss(n_steps, batch_size) == pytest.approx(0.0, abs=1e-6)
    assert abs(_policy_loss(n_steps, batch_size, normalize=False)) > 1e-3


@pytest.mark.parametrize("n_steps,batch_size", [(5, 2), (1, 4)])
def test_ppo_leaves_a_one_row_minibatchs_advantage_as_it_is(n_steps, batch_size):
    loss = _policy_loss(n_steps, batch_size)
    assert math.isfinite(loss) and abs(loss) > 1e-4


def test_a_ppo_checkpoint_records_its_config(tmp_path):
    config = PpoConfig(n_steps=16, batch_size=8, learning_rate=1e-3, ent_coef=0.02, hidden=(8, 4), seed=7)
    agent = PpoAgent(OBS, BOX_ACTIONS, config)
    path = tmp_path / "ppo.pt"
    agent.save(path)
    saved = load_checkpoint(path, "ppo")["config"]
    assert saved["hidden"] == [8, 4]
    assert saved["n_steps"] == 16 and saved["batch_size"] == 8 and saved["seed"] == 7
    assert saved["learning_rate"] == 1e-3 and saved["ent_coef"] == 0.02
    assert PpoConfig(**saved) == config


@pytest.mark.parametrize("masked", [False, True])
def test_categorical_sampling_keeps_to_the_mask_and_gives_each_actions_log_prob(masked):
    net = ActorCritic(3, 4, False, (8,), log_std_init=0.0)
    obs = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (200, 3)).astype(np.float32))
    masks = torch.from_numpy(np.tile([True, False, True, False], (200, 1))) if masked else None
    with torch.no_grad():
        actions, logp = net.sample(obs, np.random.default_rng(3), masks)
        want, _ = net.log_prob_entropy(obs, torch.from_numpy(actions), masks=masks)
    assert actions.shape == (200,) and logp.shape == (200,) and logp.dtype == np.float32
    assert set(actions.tolist()) == ({0, 2} if masked else {0, 1, 2, 3})
    np.testing.assert_allclose(logp, want.numpy(), rtol=1e-5, atol=1e-5)
