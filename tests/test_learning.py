"""DQN and PPO learn CartPole in seconds (fixed seeds), beating a random policy by a clear margin."""

import gymnasium as gym
import numpy as np
import pytest

from ecs_rl import RandomAgent, TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, PpoAgent, configure_torch, presets
from ecs_rl.adapters.gym_loop import evaluate, train


@pytest.fixture(scope="module", autouse=True)
def torch_settings_for_small_nets():
    """The settings `ecs-rl train` uses (agents leave torch's process settings alone); restored afterwards."""
    previous = configure_torch()
    yield
    configure_torch(previous.num_threads, previous.flush_denormal)


def cartpole():
    return gym.make("CartPole-v1")


@pytest.fixture(scope="module")
def random_mean():
    records = evaluate(RandomAgent(cartpole().action_space, seed=0), cartpole, n_episodes=20)
    return float(np.mean([r.total_reward for r in records]))


def trained_mean(agent, n_envs: int, steps: int, seed: int = 0) -> float:
    session = TrainingSession(agent).with_max_steps(steps)
    train(session, [cartpole() for _ in range(n_envs)], seed=seed)
    return float(np.mean([r.total_reward for r in evaluate(agent, cartpole, n_episodes=20)]))


def test_dqn_beats_random_on_cartpole(random_mean):
    env = cartpole()
    agent = DqnAgent(env.observation_space, env.action_space, presets.cartpole_dqn(seed=0))
    mean = trained_mean(agent, n_envs=1, steps=10_000)
    assert random_mean < 30  # CartPole's random policy: about 22 steps
    assert mean > 3 * random_mean and mean > random_mean + 50, (mean, random_mean)


def test_ppo_beats_random_on_cartpole(random_mean):
    env = cartpole()
    agent = PpoAgent(env.observation_space, env.action_space, presets.cartpole_ppo(seed=0, total_steps=20_000))
    mean = trained_mean(agent, n_envs=8, steps=20_000)
    assert mean > 3 * random_mean and mean > random_mean + 50, (mean, random_mean)


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_same_seed_gives_the_same_episode_rewards(tmp_path, algo):
    def rewards(k: int) -> list[float]:
        env = cartpole()
        if algo == "dqn":
            agent = DqnAgent(env.observation_space, env.action_space, presets.cartpole_dqn(seed=3, learning_starts=500))
        else:
            agent = PpoAgent(env.observation_space, env.action_space, presets.cartpole_ppo(seed=3, total_steps=4_000))
        run = TrainingRun.create("det", f"{algo}{k}", root=tmp_path)
        session = TrainingSession(agent).with_run(run).with_max_steps(4_000)
        train(session, [cartpole() for _ in range(2)], seed=3)
        return [row["total_reward"] for row in run.read_train_episodes()]

    first, second = rewards(1), rewards(2)
    assert len(first) > 20 and first == second


@pytest.mark.parametrize("algo, n_envs, steps, episodes, total", [
    ("dqn", 1, 5_000, 141, 4948.0),
    ("ppo", 8, 6_000, 82, 4513.0),
])
def test_pinned_short_runs_give_the_rewards_they_gave_before(algo, n_envs, steps, episodes, total):
    """Same seed, same math, same episodes: figures recorded at commit 40178f4 (before the lifecycle work
    changed the update code to take decision periods); a change of the learning arithmetic shows here."""
    env = cartpole()
    if algo == "dqn":
        agent = DqnAgent(env.observation_space, env.action_space, presets.cartpole_dqn(seed=0))
    else:
        agent = PpoAgent(env.observation_space, env.action_space, presets.cartpole_ppo(seed=0, total_steps=20_000))
    session = TrainingSession(agent).with_max_steps(steps)
    rewards = []
    session.on_episode = lambda reward, length, *args, _on=session.on_episode, **kw: (rewards.append(reward),
                                                                                     _on(reward, length, *args, **kw))
    train(session, [cartpole() for _ in range(n_envs)], seed=0)
    assert (len(rewards), sum(rewards)) == (episodes, total)
