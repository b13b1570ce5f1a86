"""Action masks end to end: the component, the plugin, DQN, PPO, greedy policies, the faces, the maze demo."""

import dataclasses
import warnings

import esper
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from ppo_reference import autograd_ppo

from ecs_rl import ActMode, EpisodeStatus, Experience, RandomAgent, TrainingSession
from ecs_rl.adapters import WorldEnv, WorldVectorEnv
from ecs_rl.adapters.parallel_env import ParallelWorldEnv
from ecs_rl.algorithms import DqnAgent, DqnConfig, GreedyPolicy, PpoAgent, PpoConfig, configure_torch
from ecs_rl.ecs import (
    Action, ActionMask, ComponentError, Done, Observation, agent_components, install, run_episodes, step_world,
)
from ecs_rl.worlds import cartpole, maze

OBS4 = gym.spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
N_DRAWS = 4_000


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small nets train fastest on one thread, and far faster on a busy machine; restored afterwards."""
    previous = configure_torch()
    yield
    configure_torch(**dataclasses.asdict(previous))


def constant_head(net: torch.nn.Module, values) -> None:
    """Make an MLP output ``values`` for every input: zero weights, last bias = values."""
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net[-1].bias.copy_(torch.tensor(values, dtype=torch.float32))


def random_masks(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    masks = rng.random((n, k)) < 0.4
    masks[np.arange(n), rng.integers(k, size=n)] = True  # at least one legal action per row
    return masks


# -- DQN -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("epsilon", [1.0, 0.3, 0.0])
def test_dqn_never_takes_a_masked_action_exploring_or_not(epsilon):
    agent = DqnAgent(OBS4, gym.spaces.Discrete(5, start=1), DqnConfig(epsilon_start=epsilon, epsilon_end=epsilon))
    constant_head(agent.q_net, [0.0, 0.0, 0.0, 0.0, 9.0])  # unmasked, greedy would always pick the last action
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (N_DRAWS, 4)).astype(np.float32)
    masks = random_masks(rng, N_DRAWS, 5)
    for mode in (ActMode.EXPLORE, ActMode.EXPLOIT):
        actions = agent.act_batch(obs, mode, masks=masks) - 1
        assert masks[np.arange(N_DRAWS), actions].all()
        single = [agent.act(o, mode, mask=m) - 1 for o, m in zip(obs[:300], masks[:300])]
        assert masks[np.arange(300), single].all()
    greedy = agent.act_batch(obs, ActMode.EXPLOIT, masks=masks) - 1
    assert (greedy[masks[:, 4]] == 4).all()  # the best action whenever it is legal
    if epsilon == 1.0:  # exploration is uniform over the legal actions, not the first legal one
        both = np.zeros((N_DRAWS, 5), dtype=bool)
        both[:, [1, 3]] = True
        counts = np.bincount(agent.act_batch(obs, ActMode.EXPLORE, masks=both) - 1, minlength=5)
        assert counts[[0, 2, 4]].sum() == 0 and abs(counts[1] - counts[3]) < 0.1 * N_DRAWS


def test_dqn_target_max_runs_over_the_next_states_legal_actions():
    agent = DqnAgent(OBS4, gym.spaces.Discrete(3), DqnConfig(gamma=0.9))
    constant_head(agent.target_net, [2.0, 5.0, -1.0])
    masks = np.array([[True, False, True], [False, False, True], [False, False, False]])
    y = agent.td_targets([1.0, 1.0, 1.0], np.zeros((3, 4)), [0.0, 0.0, 1.0], next_masks=masks)
    assert y.tolist() == pytest.approx([1.0 + 0.9 * 2.0, 1.0 - 0.9, 1.0])  # a terminal next state needs none

    double = DqnAgent(OBS4, gym.spaces.Discrete(3), DqnConfig(gamma=0.9, double_dqn=True))
    constant_head(double.target_net, [2.0, 5.0, -1.0])
    constant_head(double.q_net, [0.0, 9.0, 1.0])  # online argmax over legal {0, 2}: 2
    assert double.td_targets([1.0], np.zeros((1, 4)), [0.0], next_masks=masks[:1]).tolist() == \
        pytest.approx([1.0 - 0.9])


def test_dqn_replay_keeps_next_masks_and_the_update_uses_them(tmp_path):
    agent = DqnAgent(OBS4, gym.spaces.Discrete(3), DqnConfig(learning_starts=10_000, save_replay=True))
    agent.observe(Experience(np.ones(4), 0, 0.0, np.ones(4)))  # before any mask: no mask array yet
    assert agent.replay.next_masks is None
    agent.observe(Experience(np.ones(4), 1, 0.0, np.ones(4), next_mask=np.array([False, True, False])))
    agent.observe(Experience(np.ones(4), 2, 1.0, np.ones(4), EpisodeStatus.TERMINATED,
                             next_mask=np.zeros(3, dtype=bool)))
    assert agent.replay.next_masks[:3].tolist() == [[True] * 3, [False, True, False], [True] * 3]
    agent.save(tmp_path / "dqn.pt")
    again = DqnAgent(OBS4, gym.spaces.Discrete(3), DqnConfig(learning_starts=10_000))
    again.load(tmp_path / "dqn.pt")
    assert again.replay.next_masks[:3].tolist() == agent.replay.next_masks[:3].tolist()
    with pytest.raises(ValueError, match="next_mask of agent 7 allows no action"):
        agent.observe(Experience(np.ones(4), 0, 0.0, np.ones(4), agent_id=7, next_mask=np.zeros(3, dtype=bool)))
    with pytest.raises(ValueError, match="next_mask of agent 7 must be a bool array of shape"):
        agent.observe(Experience(np.ones(4), 0, 0.0, np.ones(4), agent_id=7, next_mask=np.ones(3)))
    with pytest.raises(ValueError, match="masks row 1 allows no action"):
        agent.act_batch(np.zeros((2, 4)), masks=np.array([[True, False, False], [False] * 3]))


# -- PPO -----------------------------------------------------------------------------------------

def test_ppo_never_takes_a_masked_action_sampling_or_greedy():
    agent = PpoAgent(OBS4, gym.spaces.Discrete(4, start=2), PpoConfig(n_steps=10**9))
    constant_head(agent.net.actor, [0.0, 0.0, 0.0, 6.0])  # unmasked, the last action has 99% of the mass
    rng = np.random.default_rng(1)
    obs = rng.uniform(-1, 1, (N_DRAWS, 4)).astype(np.float32)
    masks = random_masks(rng, N_DRAWS, 4)
    for mode in (ActMode.EXPLORE, ActMode.EXPLOIT):
        actions = agent.act_batch(obs, mode, list(range(N_DRAWS)), masks) - 2
        assert masks[np.arange(N_DRAWS), actions].all()
    single = [agent.act(o, ActMode.EXPLORE, 10**6 + i, m) - 2 for i, (o, m) in enumerate(zip(obs[:300], masks[:300]))]
    assert masks[np.arange(300), single].all()
    # with the favourite masked, the others are sampled evenly
    three = np.array([[True, True, True, False]] * N_DRAWS)
    counts = np.bincount(agent.act_batch(obs, ActMode.EXPLORE, list(range(N_DRAWS)), three) - 2, minlength=4)
    assert counts[3] == 0 and counts[:3].min() > 0.28 * N_DRAWS


def test_ppo_log_probs_under_a_mask_match_a_masked_categorical():
    agent = PpoAgent(OBS4, gym.spaces.Discrete(5), PpoConfig(n_steps=10**9, seed=3))
    with torch.no_grad():
        agent.net.actor[-1].weight.mul_(300.0)  # logits far from uniform
    rng = np.random.default_rng(2)
    obs = rng.uniform(-1, 1, (512, 4)).astype(np.float32)
    masks = random_masks(rng, 512, 5)
    actions = agent.act_batch(obs, ActMode.EXPLORE, list(range(512)), masks)
    with torch.no_grad():
        logits = agent.net.actor(torch.from_numpy(obs))
        dist = torch.distributions.Categorical(logits=logits.masked_fill(~torch.from_numpy(masks), -torch.inf))
        logp, entropy = agent.net.log_prob_entropy(torch.from_numpy(obs), torch.from_numpy(actions),
                                                   masks=torch.from_numpy(masks))
    expected = dist.log_prob(torch.from_numpy(actions))
    assert torch.allclose(logp, expected, atol=1e-5)
    assert torch.allclose(entropy, dist.entropy(), atol=1e-5)
    kept = torch.tensor([agent._pending[i][2] for i in range(512)])  # the rollout's log pi_old
    assert torch.allclose(kept, expected, atol=1e-5)
    unmasked, _ = agent.net.log_prob_entropy(torch.from_numpy(obs), torch.from_numpy(actions))
    assert not torch.allclose(unmasked, expected, atol=1e-2)  # the mask matters for these logits


def test_ppo_update_computes_the_ratio_under_the_rollouts_masks(tmp_path):
    """With a learning rate of 0 the first pass's ratio is exactly 1 only if log pi is taken under the same
    masks the actions were sampled under."""
    config = PpoConfig(n_steps=64, n_epochs=1, batch_size=64, learning_rate=0.0, seed=4)
    agent = PpoAgent(OBS4, gym.spaces.Discrete(4), config)
    with torch.no_grad():
        agent.net.actor[-1].weight.mul_(300.0)
    rng = np.random.default_rng(5)
    for t in range(64):
        obs = rng.uniform(-1, 1, (1, 4)).astype(np.float32)
        mask = random_masks(rng, 1, 4)
        agent.act_batch(obs, ActMode.EXPLORE, [0], mask)
        if t == 30:  # the rollout (its masks included) survives a checkpoint
            agent.save(tmp_path / "ppo.pt")
            agent = PpoAgent(OBS4, gym.spaces.Discrete(4), config)
            agent.load(tmp_path / "ppo.pt")
        agent.observe(Experience(obs[0], 0, float(rng.normal()), obs[0], agent_id=0))
    assert agent._updates == 1
    assert agent._last_update["approx_kl"] == pytest.approx(0.0, abs=1e-6)
    assert agent._last_update["clip_fraction"] == 0.0


def test_hand_written_ppo_backward_under_masks_equals_autograd_bit_for_bit():
    from ecs_rl.algorithms.mlp_backward import ppo_backward, ppo_losses

    n, clip = 128, 0.2
    agent = PpoAgent(OBS4, gym.spaces.Discrete(4), PpoConfig(seed=6))
    torch.manual_seed(6)
    with torch.no_grad():
        agent.params.param.add_(torch.randn_like(agent.params.param) * 0.3)
    masks = torch.from_numpy(random_masks(np.random.default_rng(6), n, 4))
    obs, returns, adv = torch.randn(n, 4), torch.randn(n), torch.randn(n)
    actions = torch.multinomial(masks.float(), 1).squeeze(1).float()  # legal actions
    with torch.no_grad():
        old = agent.net.log_prob_entropy(obs, actions, masks=masks)[0] + torch.randn(n) * 0.1
    _, entropy, _, pg, _, expected = autograd_ppo(agent, obs, actions, old, adv, returns, clip, masks)
    pg_loss, _, entropy_mean = ppo_losses(ppo_backward(agent.net.actor, agent.net.critic, obs, actions, old, adv,
                                                       returns, clip, 0.5, masks))
    assert torch.equal(agent.params.param.grad, expected)
    assert torch.equal(pg_loss, pg) and torch.equal(entropy_mean, entropy.mean())
    unmasked_pg = ppo_losses(ppo_backward(agent.net.actor, agent.net.critic, obs, actions, old, adv, returns, clip,
                                          0.5))[0]
    assert not torch.equal(unmasked_pg, pg)  # the masks change the loss


def test_greedy_policies_mask_from_the_agent_and_from_a_checkpoint(tmp_path):
    masks = np.array([[True, True, False], [True, False, False]])
    for agent in (DqnAgent(OBS4, gym.spaces.Discrete(3)), PpoAgent(OBS4, gym.spaces.Discrete(3))):
        head = agent.q_net if isinstance(agent, DqnAgent) else agent.net.actor
        constant_head(head, [1.0, 2.0, 3.0])
        agent.save(tmp_path / f"{agent.algorithm}.pt")
        for policy in (agent.to_policy(), GreedyPolicy.load(tmp_path / f"{agent.algorithm}.pt")):
            assert policy.act_batch(np.zeros((2, 4))).tolist() == [2, 2]
            assert policy.act_batch(np.zeros((2, 4)), masks=masks).tolist() == [1, 0]
            assert policy.act(np.zeros(4), mask=masks[1]) == 0


def test_box_actions_refuse_masks_clearly():
    box = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    agent = PpoAgent(OBS4, box)
    with pytest.raises(TypeError, match="action masks need a Discrete action space"):
        agent.act_batch(np.zeros((1, 4)), masks=np.ones((1, 2), dtype=bool))
    with pytest.raises(TypeError, match="action masks need a Discrete action space"):
        agent.to_policy().act_batch(np.zeros((1, 4)), masks=np.ones((1, 2), dtype=bool))


# -- the plugin ----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: DqnAgent(maze.observation_space, maze.action_space,  # epsilon 1 -> 0.5: random and greedy moves
                     DqnConfig(learning_starts=1_000, epsilon_end=0.5, epsilon_decay_steps=1_000, seed=1)),
    lambda: PpoAgent(maze.observation_space, maze.action_space, PpoConfig(n_steps=32, seed=1)),
], ids=["dqn", "ppo"])
def test_masked_agents_never_walk_into_walls_and_learners_keep_the_masks(world, make):
    bumps = {}
    for masked in (True, False):
        esper.switch_world(f"{world}-{masked}")
        agent = make()
        maze.build(8, seed=0, masked=masked)
        plugin = install({"maze": TrainingSession(agent)}, reset=maze.reset)
        bumps[masked] = 0
        plugin.on_episode_end(lambda e, masked=masked: bumps.__setitem__(
            masked, bumps[masked] + e.extras.get("wall_bumps", 0)))
        walkers = [w for _, w in esper.get_component(maze.MazeWalker)]
        step_world(200, plugin=plugin)  # 1 600 exploring decisions
        bumps[masked] += sum(w.bumps for w in walkers)  # the episodes still running
        if masked and isinstance(agent, DqnAgent):  # the replay's next masks are the next cells' legal moves
            replay = agent.replay
            cells = replay.next_obs.argmax(axis=1)
            live = replay.terminated == 0.0
            assert (replay.next_masks[:replay.size][live] == maze.LEGAL[cells[live]]).all()
        if masked and isinstance(agent, PpoAgent):  # each rollout row holds the mask it was sampled under
            rows = [(o, m) for s in agent._segments.values() for o, m in zip(s.obs, s.masks)]
            assert rows and all((m == maze.LEGAL[o.argmax()]).all() for o, m in rows)
        plugin.uninstall()
        esper.switch_world(world)
        esper.delete_world(f"{world}-{masked}")
    assert bumps[True] == 0
    assert bumps[False] > 100  # the same learner without masks does walk into walls


def masked_cartpole(world, mask, policy):
    entity = cartpole.build(1, seed=0)[0]
    esper.add_component(entity, ActionMask(mask))
    return install({"cartpole": policy}, reset=cartpole.reset), entity


@pytest.mark.parametrize("mask, message", [
    (np.zeros(2, dtype=bool), "ActionMask allows no action"),
    (np.ones(2), "ActionMask must be a bool numpy array of shape \\(2,\\)"),
    (np.ones(3, dtype=bool), "ActionMask must be a bool numpy array of shape \\(2,\\)"),
    ([True, False], "ActionMask must be a bool numpy array"),
])
def test_bad_masks_are_named_with_their_entity(world, mask, message):
    plugin, entity = masked_cartpole(world, mask, DqnAgent(cartpole.observation_space, cartpole.action_space))
    with pytest.raises(ComponentError, match=f"entity {entity}: {message}"):
        step_world(1, plugin=plugin)


def test_a_policy_that_cannot_take_masks_or_box_actions_is_refused_naming_the_entity(world):
    class NoMasks:
        action_space = cartpole.action_space

        def act_batch(self, obs, mode, ids):
            return np.zeros(len(obs), dtype=np.int64)

    plugin, entity = masked_cartpole(world, np.ones(2, dtype=bool), NoMasks())
    with pytest.raises(ComponentError, match=f"entity {entity}: has an ActionMask but policy 'cartpole' .*no masks"):
        step_world(1, plugin=plugin)
    plugin.uninstall()
    box = PpoAgent(cartpole.observation_space, gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32))
    plugin = install({"cartpole": box}, reset=cartpole.reset)
    with pytest.raises(ComponentError, match=f"entity {entity}: has an ActionMask .* Discrete action space"):
        step_world(1, plugin=plugin)
    plugin.uninstall()

    class NoSpace:  # takes masks but never says its action space
        def act_batch(self, obs, mode, ids, masks=None):
            return np.zeros(len(obs), dtype=np.int64)

    plugin = install({"cartpole": NoSpace()}, reset=cartpole.reset)
    with pytest.raises(ComponentError, match=f"entity {entity}: .* policy 'cartpole' has no action_space attribute"):
        step_world(1, plugin=plugin)


def test_a_random_agent_and_a_terminal_state_without_legal_actions(world):
    """RandomAgent honours masks; a state the game ends may have no legal action (nothing decides there)."""
    class EndWithNoMoves(esper.Processor):
        def process(self, *args, **kwargs):
            for _, (mask, done) in esper.get_components(ActionMask, Done):
                if done.terminated:
                    mask.value = np.zeros(2, dtype=bool)

    def reset(entity, seed):
        cartpole.reset(entity, seed)
        esper.component_for_entity(entity, ActionMask).value = np.array([False, True])

    esper.add_processor(EndWithNoMoves(), priority=-1)
    agent = DqnAgent(cartpole.observation_space, cartpole.action_space, DqnConfig(learning_starts=10**6))
    esper.add_component(cartpole.build(1, seed=0)[0], ActionMask(np.array([False, True])))
    plugin = install({"cartpole": TrainingSession(agent)}, reset=reset)
    step_world(200, plugin=plugin)  # always pushing right: many short terminated episodes
    assert agent.replay.size == 200 and agent.replay.terminated.sum() >= 5
    assert (agent.replay.rows[:200, 2 * 4] == 1).all()  # only the legal action was ever taken
    assert RandomAgent(cartpole.action_space, 0).act_batch(np.zeros((500, 4)), masks=np.array(
        [[True, False]] * 500)).tolist() == [0] * 500


# -- the faces -----------------------------------------------------------------------------------

def test_gymnasium_faces_expose_action_masks_and_pass_the_checker():
    env = WorldEnv(maze.factory(), maze.reset, maze.observation_space, maze.action_space)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    for _ in range(40):
        mask = env.action_masks()
        assert mask.dtype == np.bool_ and (mask == maze.LEGAL[obs.argmax()]).all()
        obs, _, terminated, truncated, _ = env.step(int(np.flatnonzero(mask)[0]))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()

    vec = WorldVectorEnv(maze.factory(), maze.reset, maze.observation_space, maze.action_space, num_envs=3)
    obs, _ = vec.reset(seed=0)
    assert (vec.action_masks() == maze.LEGAL[obs.argmax(axis=1)]).all()
    vec.close()

    plain = WorldEnv(maze.factory(masked=False), maze.reset, maze.observation_space, maze.action_space)
    plain.reset(seed=0)
    assert plain.action_masks().tolist() == [True] * 4  # no ActionMask: everything legal
    plain.close()
    box = WorldEnv(maze.factory(), maze.reset, maze.observation_space, gym.spaces.Box(-1.0, 1.0, (2,)))
    with pytest.raises(TypeError, match="action masks need a Discrete action space"):
        box.action_masks()
    box.close()


def test_pettingzoo_face_puts_the_action_mask_in_the_observation_like_classic_envs():
    env = ParallelWorldEnv(maze.factory(), maze.reset, maze.observation_space, maze.action_space, num_agents=4)
    space = env.observation_space("agent_0")
    assert isinstance(space, gym.spaces.Dict) and space["action_mask"].dtype == np.int8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=200)
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        for o in obs.values():
            assert o["action_mask"].dtype == np.int8
            assert (o["action_mask"] == maze.LEGAL[o["observation"].argmax()]).all()
        actions = {a: env.action_space(a).sample(mask=obs[a]["action_mask"]) for a in env.agents}
        if not actions:
            break
        obs, *_ = env.step(actions)
    env.close()
    plain = ParallelWorldEnv(maze.factory(masked=False), maze.reset, maze.observation_space, maze.action_space,
                             num_agents=2)
    assert plain.observation_space("agent_0") == maze.observation_space  # no masks: the plain observation
    plain.close()


# -- the demo: masked agents learn faster --------------------------------------------------------

def train_and_evaluate(masked: bool, seed: int) -> list[float]:
    """PPO on 8 maze walkers for 4 x 1 500 decisions; the greedy mean reward over 32 held-out episodes after each."""
    agent = PpoAgent(maze.observation_space, maze.action_space,
                     PpoConfig(n_steps=64, batch_size=128, learning_rate=1e-3, seed=seed))
    name = f"maze-{masked}-{seed}"
    previous = esper.current_world
    esper.switch_world(name)
    try:
        maze.build(8, seed, masked=masked)
        plugin = install({"maze": TrainingSession(agent)}, reset=maze.reset)
        scores = []
        for k in range(4):
            step_world(1_500 // 8, plugin=plugin)
            result = run_episodes(maze.factory(masked=masked), {"maze": agent}, 32, seed=10_000 + 32 * k)
            scores.append(result["maze"].mean_reward)
    finally:
        esper.switch_world(previous)
        esper.delete_world(name)
    return scores


@pytest.mark.parametrize("seed", [0, 1])
def test_masked_maze_walkers_learn_faster_than_unmasked_ones(seed):
    masked, plain = train_and_evaluate(True, seed), train_and_evaluate(False, seed)
    assert np.mean(masked) > np.mean(plain) + 0.8, (masked, plain)
    assert max(masked) > 0.8  # masked walkers reach the goal from (almost) every start


def test_a_held_action_the_game_makes_illegal_within_a_decision_period_is_decided_again(world):
    """decision_period=2 in a corridor whose walls move with the agent: a held move that became illegal is
    never executed; its decision closes early (a running transition of one tick) and the agent decides again."""
    from walk_world import RecordingAgent

    class Masked(RecordingAgent):
        def act_batch(self, obs_batch, mode=None, agent_ids=None, masks=None):
            return RandomAgent.act_batch(self, obs_batch, mode, agent_ids, masks)

    def legal(x):
        return np.array([x > 0, x < 3])

    class Corridor(esper.Processor):
        moves = illegal = 0

        def process(self, *args, **kwargs):
            for _, (pos, action, mask, obs) in esper.get_components(list, Action, ActionMask, Observation):
                Corridor.moves += 1
                Corridor.illegal += not mask.value[int(action.value)]
                pos[0] = min(3, max(0, pos[0] + (1 if int(action.value) else -1)))
                mask.value, obs.value = legal(pos[0]), np.array([pos[0] / 3, 0.0], np.float32)

    for _ in range(4):
        entity = esper.create_entity(*agent_components("walk", np.array([1 / 3, 0.0], np.float32),
                                                       decision_period=2), [1])
        esper.add_component(entity, ActionMask(legal(1)))
    esper.add_processor(Corridor(), priority=0)
    session = TrainingSession(Masked(seed=3))
    install({"walk": session}, reset=lambda entity, seed: None)
    step_world(500)
    assert Corridor.moves == 2000 and Corridor.illegal == 0
    ticks = [e.ticks for e in session.agent.experiences]
    assert ticks.count(1) > 50 and ticks.count(2) > 50  # early closes beside whole periods
    early = [e for e in session.agent.experiences if e.ticks == 1]
    assert all(e.status == EpisodeStatus.RUNNING and not e.next_mask[int(e.action)] for e in early)
