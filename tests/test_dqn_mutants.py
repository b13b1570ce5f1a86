"""DQN and PPO behaviours that mutation testing found unchecked: the soft target update, the replay buffer's
first and last rows, config edge values and the errors for bad ones."""

import gymnasium as gym
import math

import numpy as np
import pytest
import torch

from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoConfig
from ecs_rl.algorithms.dqn import ReplayBuffer

OBS = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
ACTIONS = gym.spaces.Discrete(2)


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()]).clone()


def transition(t: int) -> Experience:
    rng = np.random.default_rng(t)
    obs, nxt = rng.uniform(-1, 1, 3).astype(np.float32), rng.uniform(-1, 1, 3).astype(np.float32)
    return Experience(obs, t % 2, float(rng.normal()), nxt, EpisodeStatus.TERMINATED if t % 7 == 6 else
                      EpisodeStatus.RUNNING)


@pytest.mark.parametrize("batched", [False, True])
def test_soft_target_update_moves_the_target_a_tau_fraction_toward_the_online_net(batched):
    tau, interval = 0.25, 5
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(tau=tau, target_update_interval=interval, learning_starts=0,
                                             batch_size=4, hidden=(8,), learning_rate=0.05, seed=1))
    assert torch.equal(flat(agent.q_net), flat(agent.target_net))
    for t in range(1, 3 * interval + 1):
        target_before = flat(agent.target_net)
        if batched:
            agent.observe_batch([transition(t)])
        else:
            agent.observe(transition(t))
        online, target = flat(agent.q_net), flat(agent.target_net)
        if t % interval:
            assert torch.equal(target, target_before), f"step {t}: the target moved between syncs"
        else:
            expected = target_before + tau * (online - target_before)
            assert torch.allclose(target, expected, atol=1e-6), f"step {t}: not a {tau} soft update"
            assert not torch.allclose(target, online)  # a soft update is not a copy


def test_hard_target_update_copies_the_online_net_at_the_interval():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(tau=1.0, target_update_interval=3, learning_starts=0, batch_size=2,
                                             hidden=(8,), learning_rate=0.05))
    for t in range(1, 4):
        before = flat(agent.target_net)
        agent.observe(transition(t))
        if t < 3:
            assert torch.equal(flat(agent.target_net), before)
    assert torch.equal(flat(agent.target_net), flat(agent.q_net))
    assert not torch.equal(flat(agent.target_net), before)


def test_the_replay_buffer_draws_its_first_and_last_rows():
    buffer = ReplayBuffer(capacity=8, obs_dim=1, seed=0)
    for i in range(3):
        buffer.add(np.array([float(i)]), 0, 0.0, np.array([float(i)]), False, 0.99)
    obs = buffer.sample(300)[0][:, 0].numpy()
    assert set(obs.tolist()) == {0.0, 1.0, 2.0}  # uniform over rows 0..size-1, nothing beyond


def test_the_replay_buffer_wraps_and_draws_over_the_whole_capacity():
    buffer = ReplayBuffer(capacity=4, obs_dim=1, seed=0)
    for i in range(6):
        buffer.add(np.array([float(i)]), i % 2, float(i), np.array([float(i) + 0.5]), i == 5, 0.5)
    assert (buffer.size, buffer.pos) == (4, 2)
    obs, actions, rewards, next_obs, terminated, discounts = buffer.sample(400)
    assert set(obs[:, 0].tolist()) == {2.0, 3.0, 4.0, 5.0}
    assert torch.equal(rewards, obs[:, 0]) and torch.equal(next_obs[:, 0], obs[:, 0] + 0.5)
    assert torch.equal(actions, (obs[:, 0] % 2).long()) and torch.equal(terminated, (obs[:, 0] == 5).float())
    assert torch.all(discounts == 0.5)
    assert buffer.terminated.tolist() == [0.0, 1.0, 0.0, 0.0] and buffer.next_obs[:, 0].tolist() == [4.5, 5.5, 2.5, 3.5]


@pytest.mark.parametrize("field, value", [
    ("tau", 1.0), ("tau", 1e-3), ("gamma", 0.0), ("gamma", 1.0), ("epsilon_start", 0.0), ("epsilon_start", 1.0),
    ("epsilon_end", 0.0), ("epsilon_end", 1.0), ("batch_size", 1), ("buffer_size", 1), ("train_freq", 1),
    ("gradient_steps", 1), ("target_update_interval", 1), ("learning_starts", 0), ("epsilon_decay_steps", 0),
    ("learning_rate", 0.0), ("learning_rate", 1),
])
def test_dqn_config_accepts_its_edge_values(field, value):
    config = DqnConfig(**{field: value})
    assert getattr(config, field) == value
    DqnAgent(OBS, ACTIONS, config)


@pytest.mark.parametrize("field, value, message", [
    ("tau", 0.0, r"tau must be in \(0, 1\], got 0.0"), ("tau", 1.01, "tau must be in"),
    ("gamma", -0.01, r"gamma must be in \[0, 1\]"), ("gamma", 1.01, "gamma must be in"),
    ("epsilon_start", 1.5, r"epsilon_start must be in \[0, 1\], got 1.5"), ("epsilon_end", -0.1, "epsilon_end"),
    ("epsilon_start", "0.5", "epsilon_start"),
    ("batch_size", 0, "batch_size must be >= 1, got 0"), ("buffer_size", 0, "buffer_size must be >= 1"),
    ("train_freq", 0, "train_freq must be >= 1"), ("gradient_steps", 0, "gradient_steps must be >= 1"),
    ("target_update_interval", 0, "target_update_interval must be >= 1"),
    ("learning_starts", -1, "learning_starts and epsilon_decay_steps must be >= 0"),
    ("epsilon_decay_steps", -1, "learning_starts and epsilon_decay_steps must be >= 0"),
    ("learning_rate", -1e-3, "learning_rate must be a finite number >= 0"),
    ("learning_rate", math.inf, "learning_rate must be a finite number >= 0"),
    ("learning_rate", "0.1", "learning_rate"),
])
def test_dqn_config_names_a_bad_value(field, value, message):
    with pytest.raises(ValueError, match=f"DqnConfig.{message}"):
        DqnConfig(**{field: value})


def test_epsilon_decays_linearly_and_stays_at_its_end():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(epsilon_start=1.0, epsilon_end=0.2, epsilon_decay_steps=10,
                                             learning_starts=100, hidden=(4,)))
    seen = []
    for t in range(12):
        seen.append(agent.epsilon)
        agent.observe(transition(t))
    assert seen[0] == 1.0 and seen[5] == pytest.approx(0.6) and seen[10] == pytest.approx(0.2)
    assert seen[11] == pytest.approx(0.2)
    assert DqnAgent(OBS, ACTIONS, DqnConfig(epsilon_decay_steps=0, epsilon_end=0.05, hidden=(4,))).epsilon == 0.05


@pytest.mark.parametrize("field, value", [
    ("n_steps", 1), ("n_epochs", 1), ("batch_size", 1), ("gamma", 0.0), ("gamma", 1.0), ("gae_lambda", 0.0),
    ("gae_lambda", 1.0), ("learning_rate", 0.0),
])
def test_ppo_config_accepts_its_edge_values(field, value):
    assert getattr(PpoConfig(**{field: value}), field) == value


@pytest.mark.parametrize("kwargs, message", [
    ({"n_steps": 0}, "PpoConfig.n_steps must be >= 1, got 0"), ({"n_epochs": 0}, "PpoConfig.n_epochs must be >= 1"),
    ({"batch_size": 0}, "PpoConfig.batch_size must be >= 1"),
    ({"anneal_lr": True}, "anneal_steps must be set"), ({"anneal_clip": True, "anneal_steps": 0}, "anneal_steps"),
    ({"gamma": 1.01}, "gamma and gae_lambda must be in"), ({"gae_lambda": -0.1}, "gamma and gae_lambda"),
    ({"learning_rate": -1.0}, "PpoConfig.learning_rate must be a finite number >= 0"),
    ({"learning_rate": math.inf}, "learning_rate"),
])
def test_ppo_config_names_a_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PpoConfig(**kwargs)


def test_ppo_config_with_annealing_and_its_steps_is_accepted():
    assert PpoConfig(anneal_lr=True, anneal_clip=True, anneal_steps=100).anneal_steps == 100
