"""Bridges: ECS worlds as Gymnasium / PettingZoo envs, and Gymnasium envs as ECS entities."""

import warnings

import esper
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from pettingzoo.test import parallel_api_test, parallel_seed_test

import ecs_rl  # noqa: F401  (registers ecs_rl/CartPole-v1)
from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.adapters import WorldEnv, WorldVectorEnv, gym_factory, gym_reset
from ecs_rl.adapters.parallel_env import ParallelWorldEnv
from ecs_rl.algorithms import DqnAgent, PpoAgent, presets
from ecs_rl.adapters.gym_loop import train
from ecs_rl.ecs import Evaluation, install, step_world
from ecs_rl.worlds import cartpole


def ecs_cartpole_env(**kwargs) -> WorldEnv:
    return WorldEnv(cartpole.factory(), cartpole.reset, cartpole.observation_space, cartpole.action_space, **kwargs)


def rollout(env, seed: int, actions) -> list:
    """(obs, reward, terminated, truncated) for a fixed action sequence, resetting as episodes end."""
    out = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        out.append((obs, float(reward), terminated, truncated))
        if terminated or truncated:
            out.append(env.reset()[0])
    return out


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)) if isinstance(a, tuple) else a == b


@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
@pytest.mark.parametrize("env_id, frame_shape", [("ecs_rl/CartPole-v1", (400, 600, 3)),
                                                 ("ecs_rl/Foragers-v0", (640, 640, 3))])
def test_world_envs_pass_the_gymnasium_checker_without_warnings(env_id, frame_shape, render_mode):
    env = gym.make(env_id, render_mode=render_mode).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
    if render_mode is None:
        assert env.render() is None
    else:
        env.reset(seed=3)
        frame = env.render()
        assert frame.shape == frame_shape and frame.dtype == np.uint8
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4  # background, track/border and the actors
    env.close()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_a_gym_env_through_a_world_and_back_is_the_same_env(env_id):
    original = gym.make(env_id)
    wrapped = WorldEnv(gym_factory(lambda: gym.make(env_id)), gym_reset, original.observation_space,
                       original.action_space)
    space = original.action_space
    space.seed(0)
    actions = [space.sample() for _ in range(600)]
    want, got = rollout(original, 7, actions), rollout(wrapped, 7, actions)
    assert len(want) == len(got) and all(same(w, g) for w, g in zip(want, got))
    wrapped.close()


def test_registered_ecs_cartpole_retraces_gymnasium_cartpole():
    rng = np.random.default_rng(0)
    actions = [int(a) for a in rng.integers(0, 2, size=400)]
    ours, theirs = gym.make("ecs_rl/CartPole-v1"), gym.make("CartPole-v1")
    assert all(same(a, b) for a, b in zip(rollout(ours, 11, actions), rollout(theirs, 11, actions)))
    assert gym.spec("ecs_rl/CartPole-v1").reward_threshold == 475.0


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_world_autoresets_like_gymnasium(mode):
    n = 4
    ours = WorldVectorEnv(cartpole.factory(), cartpole.reset, cartpole.observation_space, cartpole.action_space, n,
                          autoreset_mode=mode)
    theirs = SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)], autoreset_mode=mode)
    assert ours.metadata["autoreset_mode"] is mode
    assert ours.observation_space.shape == theirs.observation_space.shape == (n, 4)
    assert ours.action_space == theirs.action_space
    o1, _ = ours.reset(seed=5)
    o2, _ = theirs.reset(seed=5)
    assert np.array_equal(o1, o2)
    rng = np.random.default_rng(1)
    endings = 0
    for _ in range(300):
        actions = rng.integers(0, 2, size=n)
        a, b = ours.step(actions), theirs.step(actions)
        for x, y in zip(a[:4], b[:4]):
            assert np.array_equal(x, y)
        if mode is AutoresetMode.SAME_STEP and "_final_obs" in b[4]:
            assert np.array_equal(a[4]["_final_obs"], b[4]["_final_obs"])
            for i in np.flatnonzero(b[4]["_final_obs"]):
                assert np.array_equal(a[4]["final_obs"][i], b[4]["final_obs"][i])
        endings += int(np.sum(a[2] | a[3]))
    assert endings > 20  # many episodes ended and were reset along the way
    ours.close()


def test_vector_world_next_step_reset_ignores_the_action_and_returns_the_fresh_observation():
    env = WorldVectorEnv(cartpole.factory(), cartpole.reset, cartpole.observation_space, cartpole.action_space, 2)
    env.reset(seed=0)
    while True:
        obs, rewards, terminated, truncated, _ = env.step(np.array([1, 1]))  # always push right: falls soon
        if terminated.any():
            break
    ended = int(np.flatnonzero(terminated)[0])
    obs, rewards, terminated, truncated, _ = env.step(np.array([1, 1]))
    assert rewards[ended] == 0.0 and not terminated[ended] and not truncated[ended]
    assert np.all(np.abs(obs[ended]) <= 0.05)  # a fresh initial state
    env.close()


def test_multi_agent_world_passes_the_pettingzoo_parallel_api_test():
    env = ParallelWorldEnv(cartpole.factory(), cartpole.reset, cartpole.observation_space, cartpole.action_space,
                           num_agents=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=600)
    obs, infos = env.reset(seed=1)
    assert set(obs) == {"agent_0", "agent_1", "agent_2", "agent_3"}
    with pytest.raises(ValueError, match="not live"):
        env.step({"agent_9": 0})
    env.close()


def test_a_plain_loop_agent_trains_on_world_env():
    envs = [ecs_cartpole_env() for _ in range(2)]
    agent = PpoAgent(cartpole.observation_space, cartpole.action_space, presets.cartpole_ppo(seed=0, total_steps=4_000))
    session = TrainingSession(agent).with_max_steps(4_000)
    evaluations = train(session, envs, seed=0, eval_env=ecs_cartpole_env, eval_freq=4_000, n_eval_episodes=5)
    assert session.total_steps == 4_000 and session.total_episodes > 20 and agent._updates > 0
    assert len(evaluations) == 1 and len(evaluations[0].records) == 5
    for env in envs:
        env.close()


def test_the_plugin_trains_on_gymnasium_envs_instanced_as_entities(world, tmp_path):
    make = lambda: gym.make("CartPole-v1")  # noqa: E731
    env = make()
    session = (TrainingSession(DqnAgent(env.observation_space, env.action_space, presets.cartpole_dqn(seed=0)))
               .with_run(TrainingRun.create("gym-cartpole", "ecs", root=tmp_path)).with_max_steps(3_000))
    gym_factory(make, "gym")(4, 0)
    plugin = install({"gym": session}, reset=gym_reset, evaluation=Evaluation(gym_factory(make, "gym"), every=3_000,
                                                                            episodes=4))
    step_world(plugin=plugin)
    assert session.total_steps == 3_000 and session.total_episodes > 50
    assert len(plugin.eval_history) == 1 and len(plugin.eval_history[0].records) == 4
    assert session.run.best_path.exists()


def test_foragers_vector_and_pettingzoo_faces_share_one_arena():
    from ecs_rl.adapters.registration import foragers_parallel_env

    vec = gym.make_vec("ecs_rl/Foragers-v0", num_envs=16, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=0)
    vec.action_space.seed(0)
    assert obs.shape == (16, 8) and vec.action_space.shape == (16,)
    total = 0.0
    for _ in range(50):
        obs, rewards, terminated, truncated, _ = vec.step(vec.action_space.sample())
        total += float(np.sum(rewards))
    assert obs.shape == (16, 8) and total != 0.0  # pellets eaten or bumps charged in the shared arena
    vec.close()
    env = foragers_parallel_env(16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=300)
    env.close()


def test_stable_baselines3_trains_on_world_env():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = ecs_cartpole_env()
    sb3_check_env(env, warn=True)
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(3_000)
    assert model.num_timesteps >= 3_000
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action))
    env.close()


def test_seeded_foragers_reset_gives_the_same_episode():
    env = gym.make("ecs_rl/Foragers-v0").unwrapped
    actions = np.random.default_rng(0).integers(0, 5, size=200)

    def episode():
        out = [env.reset(seed=123)[0]]
        for a in actions:
            obs, reward, *_ = env.step(int(a))
            out.append((obs.tolist(), reward))
        return out

    first, second = episode(), episode()
    assert np.array_equal(first[0], second[0]) and first[1:] == second[1:]
    assert any(r > 0 for _, r in first[1:])  # pellets were eaten (and so moved) in between
    env.close()


def fresh_forager_observations(world_name: str, entities) -> np.ndarray:
    """Each forager's observation computed from scratch from the components, one agent at a time."""
    from ecs_rl.adapters.world import in_world
    from ecs_rl.worlds.foragers import ARENA, Arena, Forager

    with in_world(world_name):
        me = {e: np.array([f.x, f.y]) for e, f in esper.get_component(Forager)}
        food = list(esper.get_component(Arena)[0][1].food.copy())
    rows = []
    for entity in entities:
        pellets = sorted((p - me[entity] for p in food), key=lambda d: d @ d)[:2]
        neighbour = min((pos - me[entity] for e, pos in me.items() if e != entity), key=lambda d: d @ d)
        row = np.concatenate([*pellets, neighbour]) / ARENA
        rows.append(np.clip(np.concatenate([row, me[entity] / ARENA * 2 - 1]), -1, 1))
    return np.array(rows, dtype=np.float32)


def test_foragers_vector_face_returns_fresh_observations_after_resets():
    vec = gym.make_vec("ecs_rl/Foragers-v0", num_envs=16, vectorization_mode="vector_entry_point")
    world, entities = vec._world.name, vec._world.entities
    vec.action_space.seed(1)
    for seed in (3, 4):  # the second seeded reset comes after pellets were eaten and foragers moved
        obs, _ = vec.reset(seed=seed)
        np.testing.assert_allclose(obs, fresh_forager_observations(world, entities), atol=1e-6)
        for _ in range(30):
            obs, *_ = vec.step(vec.action_space.sample())
    for _ in range(200):  # every episode is truncated at tick 200 ...
        truncated = vec.step(vec.action_space.sample())[3]
        if truncated.any():
            break
    assert truncated.all()
    obs, rewards, *_ = vec.step(vec.action_space.sample())  # ... and this step resets them all (unseeded)
    assert (rewards == 0).all()
    np.testing.assert_allclose(obs, fresh_forager_observations(world, entities), atol=1e-6)
    vec.close()


def test_foragers_pettingzoo_face_returns_fresh_observations_after_a_seeded_reset():
    from ecs_rl.adapters.registration import foragers_parallel_env

    env = foragers_parallel_env(16)
    for seed in (3, 4):
        obs, _ = env.reset(seed=seed)
        want = fresh_forager_observations(env._world.name, [env._entity[a] for a in env.possible_agents])
        np.testing.assert_allclose(np.array([obs[a] for a in env.possible_agents]), want, atol=1e-6)
        for _ in range(30):
            env.step({a: env.action_space(a).sample() for a in env.agents})
    env.close()


def cartpole_parallel_env():
    return ParallelWorldEnv(cartpole.factory(), cartpole.reset, cartpole.observation_space, cartpole.action_space,
                            num_agents=16)


@pytest.mark.parametrize("face", ["cartpole", "foragers"])
def test_pettingzoo_faces_pass_the_seed_and_api_tests(face):
    from ecs_rl.adapters.registration import foragers_parallel_env

    make = cartpole_parallel_env if face == "cartpole" else lambda: foragers_parallel_env(16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_seed_test(make)
        env = make()
        parallel_api_test(env, num_cycles=300)  # raises on any breach of the API
        assert len(env.possible_agents) == 16 and env.observation_space(env.possible_agents[0]) is not \
            env.observation_space(env.possible_agents[1])  # one space object per agent
        env.close()


def test_each_env_and_agent_has_its_own_spaces():
    from ecs_rl.adapters.registration import foragers_parallel_env
    from ecs_rl.worlds import foragers

    envs = [gym.make("ecs_rl/CartPole-v1"), gym.make("ecs_rl/CartPole-v1"),
            gym.make_vec("ecs_rl/Foragers-v0", num_envs=2, vectorization_mode="vector_entry_point"),
            ecs_cartpole_env()]
    spaces = [e.action_space for e in envs] + [envs[2].single_action_space]
    par = foragers_parallel_env(2)
    spaces += [par.action_space("agent_0"), par.action_space("agent_1")]
    assert par.action_space("agent_0") is par.action_space("agent_0")
    assert len({id(s) for s in spaces}) == len(spaces)
    assert not {id(s) for s in spaces} & {id(cartpole.action_space), id(foragers.action_space)}
    shared = cartpole.action_space.np_random.bit_generator.state
    for i, space in enumerate(spaces):
        space.seed(i)
        space.sample()
    assert cartpole.action_space.np_random.bit_generator.state == shared
    for env in envs:
        env.close()
    par.close()
