"""The ECS CartPole world retraces Gymnasium's CartPole-v1, and DQN trains through the plugin."""

import esper
import gymnasium as gym
import numpy as np

from ecs_rl import RandomAgent, TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, PpoAgent, presets
from ecs_rl.adapters.gym_loop import evaluate, train
from ecs_rl.ecs import Done, Evaluation, Observation, Reward, ScriptedController, install, step_world
from ecs_rl.worlds import cartpole


def balance(obs) -> int:
    """A decent hand-written controller: push toward where the pole is falling (reaches 500 steps)."""
    return int(obs[2] + 0.5 * obs[3] > 0)


class Peek(esper.Processor):
    """Reads the game's output right after it runs (before the plugin zeroes Reward / resets)."""

    def __init__(self, entity, seen):
        self.entity, self.seen = entity, seen

    def process(self, *args):
        done = esper.component_for_entity(self.entity, Done)
        self.seen.append((esper.component_for_entity(self.entity, Observation).value.copy(),
                          esper.component_for_entity(self.entity, Reward).value, done.terminated, done.truncated))


class PeekReset(Peek):
    """After the plugin's reset: the fresh observation, if the episode just ended."""

    def process(self, *args):
        if self.seen[-1][2] or self.seen[-1][3]:
            self.seen.append(("reset", esper.component_for_entity(self.entity, Observation).value.copy()))


def test_ecs_cartpole_matches_gymnasium_step_for_step(world):
    rng = np.random.default_rng(5)
    env = gym.make("CartPole-v1")
    obs = env.reset(seed=42)[0]
    expected, actions = [("reset", obs)], []
    for _ in range(3000):  # the heuristic, with some random pushes, gives both terminations and truncations
        action = balance(obs) if rng.random() > 0.2 else int(rng.integers(2))
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        expected.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs = env.reset()[0]
            expected.append(("reset", obs))
    endings = [w[2:] for w in expected if not isinstance(w[0], str) and (w[2] or w[3])]
    assert (True, False) in endings and (False, True) in endings

    (entity,) = cartpole.build(1, seed=42, policy="replay")
    script = iter(actions)
    install({"replay": ScriptedController(lambda o, e: next(script), cartpole.action_space)}, reset=cartpole.reset)
    seen = [("reset", esper.component_for_entity(entity, Observation).value.copy())]
    esper.add_processor(Peek(entity, seen), priority=-50)  # after the game (0), before record (-100)
    esper.add_processor(PeekReset(entity, seen), priority=-400)  # after the plugin's reset (-300)
    step_world(len(actions))
    assert len(seen) == len(expected)
    for got, want in zip(seen, expected):
        if isinstance(want[0], str):  # a reset: the same fresh observation
            assert got[0] == "reset" and np.array_equal(got[1], want[1])
        else:  # a step: same observation (bit for bit), reward, terminated, truncated
            assert np.array_equal(got[0], want[0]) and got[1:] == want[1:]


def test_dqn_through_the_plugin_retraces_the_plain_loop(world):
    steps = 6_000
    config = presets.cartpole_dqn(seed=1, learning_starts=500, train_freq=64, gradient_steps=32)
    env = gym.make("CartPole-v1")
    plain = TrainingSession(DqnAgent(env.observation_space, env.action_space, config)).with_max_steps(steps)
    plain_rewards = []
    plain.stats.track("all", lambda r: plain_rewards.append(r.total_reward) or 0.0, __import__("ecs_rl").Last())
    train(plain, [env], seed=1)

    ecs = TrainingSession(DqnAgent(cartpole.observation_space, cartpole.action_space, config)).with_max_steps(steps)
    ecs_rewards = []
    ecs.stats.track("all", lambda r: ecs_rewards.append(r.total_reward) or 0.0, __import__("ecs_rl").Last())
    cartpole.build(1, seed=1)
    plugin = install({"cartpole": ecs}, reset=cartpole.reset)
    step_world(plugin=plugin)
    assert len(ecs_rewards) > 30 and ecs_rewards == plain_rewards
    assert ecs.agent._updates == plain.agent._updates > 0


def test_dqn_trained_through_the_plugin_beats_random(world, tmp_path):
    random_mean = np.mean([r.total_reward for r in evaluate(RandomAgent(cartpole.action_space, seed=0),
                                                           lambda: gym.make("CartPole-v1"), 20)])
    agent = DqnAgent(cartpole.observation_space, cartpole.action_space, presets.cartpole_dqn(seed=0))
    run_dir = TrainingRun.create("cartpole", "ecs", root=tmp_path)
    session = TrainingSession(agent).with_run(run_dir).with_max_steps(10_000)
    cartpole.build(4, seed=0)
    plugin = install({"cartpole": session}, reset=cartpole.reset,
                     evaluation=Evaluation(cartpole.factory(), every=10_000, episodes=20))
    step_world(plugin=plugin)
    (result,) = plugin.eval_history
    assert len(result.records) == 20
    assert result.mean_reward > 3 * random_mean and result.mean_reward > random_mean + 50, (result.mean_reward, random_mean)
    assert run_dir.best_path.exists()


def test_spaces_match_gymnasium_but_for_finite_velocity_bounds():
    theirs = gym.make("CartPole-v1").observation_space
    ours = cartpole.observation_space
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert np.array_equal(ours.high[[0, 2]], theirs.high[[0, 2]]) and np.array_equal(ours.low, -ours.high)
    assert np.all(ours.high[[1, 3]] == np.finfo(np.float32).max) and np.all(np.isinf(theirs.high[[1, 3]]))
    assert cartpole.action_space == gym.make("CartPole-v1").action_space


def test_ppo_trained_through_the_plugin_with_many_entities_beats_random(world):
    """PPO's rollouts are keyed by agent id: here esper entity ids, eight of them interleaving every tick."""
    random_mean = np.mean([r.total_reward for r in evaluate(RandomAgent(cartpole.action_space, seed=0),
                                                           lambda: gym.make("CartPole-v1"), 20)])
    agent = PpoAgent(cartpole.observation_space, cartpole.action_space, presets.cartpole_ppo(seed=0, total_steps=20_000))
    session = TrainingSession(agent).with_max_steps(20_000)
    entities = cartpole.build(8, seed=0)
    plugin = install({"cartpole": session}, reset=cartpole.reset,
                     evaluation=Evaluation(cartpole.factory(), every=20_000, episodes=20))
    step_world(plugin=plugin)
    assert agent._updates >= 70 and set(agent._pending) <= set(entities)
    (result,) = plugin.eval_history
    assert result.mean_reward > 3 * random_mean and result.mean_reward > random_mean + 50, (result.mean_reward, random_mean)
