"""DQN and PPO: targets as specified, per-agent rollouts, exact resume, safe and checked checkpoints."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_reference import autograd_ppo

from ecs_rl import ActMode, EpisodeStatus, Experience, TrainingRun, TrainingSession
from ecs_rl.algorithms import CheckpointError, DqnAgent, DqnConfig, GreedyPolicy, PpoAgent, PpoConfig

OBS4 = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)


def constant_head(net: torch.nn.Sequential, values) -> None:
    """Make an MLP output ``values`` for every input: zero weights, last bias = values."""
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net[-1].bias.copy_(torch.tensor(values, dtype=torch.float32))


# -- DQN targets ---------------------------------------------------------------------------------

def test_dqn_targets_bootstrap_through_truncation_not_termination():
    agent = DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(gamma=0.99))
    constant_head(agent.target_net, [2.0, 5.0])  # Q_target(s', .) = [2, 5] everywhere
    y = agent.td_targets(rewards=[1.0, 1.0], next_obs=np.zeros((2, 4)), terminated=[1.0, 0.0])
    assert y.tolist() == pytest.approx([1.0, 1.0 + 0.99 * 5.0])  # terminated: r; truncated/running: r + gamma*max

    double = DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(gamma=0.99, double_dqn=True))
    constant_head(double.target_net, [2.0, 5.0])
    constant_head(double.q_net, [9.0, 0.0])  # online net picks action 0, evaluated by the target net
    assert double.td_targets([1.0], np.zeros((1, 4)), [0.0]).tolist() == pytest.approx([1.0 + 0.99 * 2.0])


def test_dqn_replay_stores_truncated_as_bootstrapping():
    agent = DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(learning_starts=10_000))
    for status in (EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED, EpisodeStatus.RUNNING):
        agent.observe(Experience(np.ones(4), 1, 1.0, np.full(4, 7.0), status))
    assert agent.replay.terminated[:3].tolist() == [1.0, 0.0, 0.0]
    assert agent.replay.next_obs[1].tolist() == [7.0] * 4  # the true final observation is kept


def test_dqn_epsilon_schedule_and_extras():
    agent = DqnAgent(OBS4, gym.spaces.Discrete(3, start=1), DqnConfig(epsilon_decay_steps=100, learning_starts=8,
                                                                        batch_size=4))
    assert agent.epsilon == 1.0
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs = rng.normal(size=4)
        action = agent.act(obs)
        assert action in (1, 2, 3)  # Discrete(start=1) offsets are honoured
        agent.observe(Experience(obs, action, 1.0, rng.normal(size=4)))
    assert agent.epsilon == pytest.approx(1.0 + 0.5 * (0.01 - 1.0))
    extras = agent.episode_extras()
    assert extras["epsilon"] == agent.epsilon and extras["loss_max"] >= extras["loss_mean"] > 0
    assert extras["loss_last"] == agent._last_loss > 0
    agent.on_episode_start()
    assert np.isnan(agent.episode_extras()["loss_mean"])


# -- PPO rollouts ----------------------------------------------------------------------------------

def test_ppo_interleaved_agents_land_in_their_own_rollouts():
    agent = PpoAgent(OBS4, gym.spaces.Discrete(3), PpoConfig(n_steps=50))
    ids = [3, 1, 0, 2]
    given = {i: [] for i in ids}
    rng = np.random.default_rng(1)
    for t in range(5):
        obs = np.stack([np.full(4, 10 * i + t, dtype=np.float32) for i in ids])  # obs encodes (agent, time)
        actions = agent.act_batch(obs, ActMode.EXPLORE, ids)
        for i, a in zip(ids, actions):
            given[i].append(int(a))
        for k in rng.permutation(len(ids)):  # transitions arrive in a shuffled order
            i = ids[k]
            agent.observe(Experience(obs[k], actions[k], float(i), obs[k] + 1, agent_id=i))
    for i in ids:
        seg = agent._segments[i]
        assert [o[0] for o in seg.obs] == [10 * i + t for t in range(5)]
        assert [int(a) for a in seg.actions] == given[i]
        assert seg.rewards == [float(i)] * 5
    with pytest.raises(RuntimeError, match="agent 9"):
        agent.observe(Experience(np.zeros(4), 0, 0.0, np.zeros(4), agent_id=9))


def test_ppo_truncation_bootstraps_with_the_critic_and_gae_is_as_specified():
    agent = PpoAgent(OBS4, gym.spaces.Discrete(2), PpoConfig(n_steps=100, gamma=0.99, gae_lambda=0.95))
    constant_head(agent.net.critic, [3.0])  # V(s) = 3 everywhere
    obs = np.zeros(4, dtype=np.float32)
    agent.act(obs, agent_id=5)
    agent.observe(Experience(obs, 0, 1.0, obs, EpisodeStatus.TRUNCATED, agent_id=5))
    agent.act(obs, agent_id=6)
    agent.observe(Experience(obs, 0, 1.0, obs, EpisodeStatus.TERMINATED, agent_id=6))
    assert agent._segments[5].rewards == pytest.approx([1.0 + 0.99 * 3.0])
    assert agent._segments[6].rewards == [1.0]

    fresh = PpoAgent(OBS4, gym.spaces.Discrete(2), PpoConfig(n_steps=100, gamma=0.99, gae_lambda=0.95))
    constant_head(fresh.net.critic, [3.0])
    for status in (EpisodeStatus.RUNNING, EpisodeStatus.RUNNING, EpisodeStatus.TERMINATED):
        fresh.act(obs)
        fresh.observe(Experience(obs, 0, 1.0, obs, status))
    _, _, _, adv, returns = fresh._advantages()
    delta = 1.0 + 0.99 * 3.0 - 3.0  # 0.97
    a2 = 1.0 - 3.0
    a1 = delta + 0.99 * 0.95 * a2
    a0 = delta + 0.99 * 0.95 * a1
    assert adv.tolist() == pytest.approx([a0, a1, a2], abs=1e-6)  # 0.1132045, -0.911, -2.0
    assert returns.tolist() == pytest.approx([a0 + 3, a1 + 3, a2 + 3], abs=1e-6)


def test_ppo_continuous_actions_are_clipped_and_logged_raw():
    space = gym.spaces.Box(-0.5, 0.5, shape=(2,), dtype=np.float32)
    agent = PpoAgent(OBS4, space, PpoConfig(log_std_init=1.0))
    actions = agent.act_batch(np.zeros((64, 4), dtype=np.float32))
    assert actions.shape == (64, 2) and actions.dtype == np.float32
    assert np.all(actions >= -0.5) and np.all(actions <= 0.5)
    raw = np.stack([agent._pending[i][1] for i in range(64)]).astype(np.float32)
    assert np.abs(raw).max() > 0.5  # std e^1: raw samples leave the bounds, the log-probs are of those
    logp, _ = agent.net.log_prob_entropy(torch.zeros(64, 4), torch.from_numpy(raw))
    assert np.allclose(logp.detach().numpy(), [agent._pending[i][2] for i in range(64)], atol=1e-5)


# -- checkpoints ------------------------------------------------------------------------------------

def run_stream(agent, steps: int, seed: int, ids=(0, 1, 2)):
    """Feed a fixed stream of synthetic transitions; return the actions and the losses seen."""
    rng = np.random.default_rng(seed)
    actions_seen, losses = [], []
    for t in range(steps):
        obs = rng.normal(size=(len(ids), 4)).astype(np.float32)
        actions = agent.act_batch(obs, ActMode.EXPLORE, list(ids))
        actions_seen.append(np.asarray(actions).tolist())
        for k, i in enumerate(ids):
            status = EpisodeStatus.TRUNCATED if (t + k) % 17 == 0 else EpisodeStatus.RUNNING
            agent.observe(Experience(obs[k], actions[k], float(rng.normal()), obs[k] * 0.9, status, i))
        losses.append(agent.episode_extras())
    return actions_seen, losses


@pytest.mark.parametrize("make", [
    lambda: DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(learning_starts=100, batch_size=16, train_freq=2,
                                                            target_update_interval=50, seed=4)),
    lambda: PpoAgent(OBS4, gym.spaces.Discrete(2), PpoConfig(n_steps=40, batch_size=32, seed=4)),
    lambda: PpoAgent(OBS4, gym.spaces.Box(-1, 1, (2,), np.float32), PpoConfig(n_steps=40, batch_size=32, seed=4)),
], ids=["dqn", "ppo-discrete", "ppo-continuous"])
def test_save_load_continue_matches_never_stopping(tmp_path, make):
    straight = make()
    run_stream(straight, 130, seed=0)  # stop mid-rollout (PPO) / mid-schedule (DQN)
    path = tmp_path / "mid.pt"
    if isinstance(straight, DqnAgent):
        straight.save(path, include_replay=True)
    else:
        straight.save(path)
    expected = run_stream(straight, 120, seed=1)

    resumed = make()
    resumed.config.seed = 99  # irrelevant after load: every RNG state comes from the file
    resumed.load(path)
    assert resumed.total_steps == 130 * 3
    assert run_stream(resumed, 120, seed=1) == expected


def test_dqn_checkpoint_without_replay_restarts_the_buffer(tmp_path):
    agent = DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(learning_starts=10, batch_size=8))
    run_stream(agent, 20, seed=0)
    agent.save(tmp_path / "a.pt")
    other = DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(learning_starts=10, batch_size=8))
    other.load(tmp_path / "a.pt")
    assert other.replay.size == 0 and other.total_steps == 60
    run_stream(other, 5, seed=1)  # learning waits for a batch's worth of transitions, no crash
    assert other.replay.size == 15


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.mkdir, (pathlib.Path(self.marker),))


def test_a_checkpoint_holding_a_pickled_object_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": "ecs-rl-checkpoint", "algorithm": "dqn", "payload": Exploit(str(marker))}, path)
    agent = DqnAgent(OBS4, gym.spaces.Discrete(2))
    with pytest.raises(CheckpointError, match="refused"):
        agent.load(path)
    with pytest.raises(CheckpointError, match="refused"):
        GreedyPolicy.load(path)
    assert not marker.exists()


def test_wrong_algorithm_shapes_and_files_are_named(tmp_path):
    dqn = DqnAgent(OBS4, gym.spaces.Discrete(2))
    dqn.save(tmp_path / "dqn.pt")
    with pytest.raises(CheckpointError, match="holds a 'dqn' agent, not a 'ppo' agent"):
        PpoAgent(OBS4, gym.spaces.Discrete(2)).load(tmp_path / "dqn.pt")
    obs6 = gym.spaces.Box(-1, 1, (6,), np.float32)
    with pytest.raises(CheckpointError, match=r"does not fit this agent \(obs_dim: checkpoint 4, agent 6\)"):
        DqnAgent(obs6, gym.spaces.Discrete(2)).load(tmp_path / "dqn.pt")
    with pytest.raises(CheckpointError, match="hidden"):
        DqnAgent(OBS4, gym.spaces.Discrete(2), DqnConfig(hidden=(32,))).load(tmp_path / "dqn.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        dqn.load(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        dqn.load(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="Discrete"):
        DqnAgent(OBS4, gym.spaces.Box(-1, 1, (2,), np.float32))


def test_policy_from_agent_and_from_a_run_directory_acts_like_the_agent(tmp_path):
    env = gym.make("CartPole-v1")
    agent = PpoAgent(env.observation_space, env.action_space, PpoConfig(n_steps=32))
    session = TrainingSession(agent).with_run(TrainingRun.create("cp", "ppo", root=tmp_path))
    run_stream(agent, 40, seed=2, ids=(0,))
    session.maybe_save_best(10.0)
    obs = np.random.default_rng(3).normal(size=(32, 4)).astype(np.float32)
    greedy = agent.act_batch(obs, ActMode.EXPLOIT)
    assert np.array_equal(agent.to_policy().act_batch(obs), greedy)
    loaded = GreedyPolicy.load(tmp_path / "cp")  # name directory -> newest run -> best.pt
    assert np.array_equal(loaded.act_batch(obs), greedy)
    assert loaded.act(obs[0]) == int(greedy[0])
    assert not any(p.requires_grad for p in loaded.network.parameters())
    with pytest.raises(CheckpointError, match="no run found"):
        GreedyPolicy.load(tmp_path / "cp" / "ppo" / session.run.run_id / "checkpoints")


def test_flat_adam_matches_torch_adam():
    from ecs_rl.algorithms.common import FlatAdam, FlatParameters, mlp

    torch.manual_seed(0)
    ours, ref = mlp((4, 16, 16, 2), torch.nn.ReLU), mlp((4, 16, 16, 2), torch.nn.ReLU)
    ref.load_state_dict(ours.state_dict())
    flat = FlatParameters(ours)
    opt, ref_opt = FlatAdam(flat.param, lr=3e-3), torch.optim.Adam(ref.parameters(), lr=3e-3, foreach=False)
    x, y = torch.randn(32, 4), torch.randn(32, 2)
    for _ in range(25):
        flat.zero_grad()
        ((ours(x) - y) ** 2).mean().backward()
        opt.step()
        ref_opt.zero_grad()
        ((ref(x) - y) ** 2).mean().backward()
        ref_opt.step()
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)
    assert not torch.equal(ours[0].weight, mlp((4, 16, 16, 2), torch.nn.ReLU)[0].weight)  # it did train


@pytest.mark.parametrize("double_dqn, huber", [(False, True), (True, True), (False, False)])
def test_dqn_burst_equals_one_update_at_a_time(double_dqn, huber):
    """A burst draws all its minibatches at once and (plain DQN) all targets in one pass: the weights it
    leaves are those of minibatches drawn one by one, each trained with autograd and torch's own clip."""
    config = DqnConfig(batch_size=16, gradient_steps=6, learning_starts=10_000, double_dqn=double_dqn, huber=huber,
                       max_grad_norm=0.5, learning_rate=1e-2, seed=4)
    fast, ref = DqnAgent(OBS4, gym.spaces.Discrete(3), config), DqnAgent(OBS4, gym.spaces.Discrete(3), config)
    rng = np.random.default_rng(1)
    for _ in range(200):
        e = Experience(rng.normal(size=4), int(rng.integers(3)), float(rng.normal()), rng.normal(size=4),
                       EpisodeStatus.TERMINATED if rng.random() < 0.2 else EpisodeStatus.RUNNING)
        fast.observe(e)
        ref.observe(e)
    fast._sync_target()
    ref._sync_target()
    fast._update_burst(6)
    loss_fn = torch.nn.functional.smooth_l1_loss if huber else torch.nn.functional.mse_loss
    losses = []
    for _ in range(6):  # the update as written before bursts: one draw, one target pass, one step at a time
        obs, actions, rewards, next_obs, terminated, discounts = ref.replay.sample(16)
        target = ref.td_targets(rewards.numpy(), next_obs.numpy(), terminated.numpy())
        loss = loss_fn(ref.q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1), target)
        ref.q_params.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([ref.q_params.param], 0.5)  # as before: on the one flat gradient
        ref.optimizer.step()
        losses.append(loss.item())
    assert torch.equal(fast.q_params.param, ref.q_params.param)
    assert not torch.equal(fast.q_params.param, fast.target_params)  # it did train
    assert fast._episode_losses == losses and fast._updates == 6
    assert fast.replay.rng.random() == ref.replay.rng.random()  # the same draws were consumed


@pytest.mark.parametrize("masked", [False, True])
def test_dqn_observe_batch_equals_one_transition_at_a_time(tmp_path, masked):
    """Batches of any size (crossing updates, target syncs, the buffer's wrap-around and checkpoint
    milestones) leave the replay, weights, counters and checkpoints of observing one at a time."""
    config = DqnConfig(batch_size=8, buffer_size=50, gradient_steps=2, train_freq=3, target_update_interval=7,
                       learning_starts=10, learning_rate=1e-2, seed=2)
    space = gym.spaces.Discrete(3)
    runs = [TrainingRun.create("obs", "v", root=tmp_path / name) for name in ("one", "batch")]
    one, batch = (TrainingSession(DqnAgent(OBS4, space, config)).with_run(run).with_checkpoint_freq(25)
                  for run in runs)
    rng = np.random.default_rng(3)
    experiences = []
    for i in range(160):
        mask = None
        if masked and i % 3:
            mask = rng.random(3) < 0.6
            mask[int(rng.integers(3))] = True
        experiences.append(Experience(rng.normal(size=4), int(rng.integers(3)), float(rng.normal()),
                                      rng.normal(size=4),
                                      EpisodeStatus.TERMINATED if rng.random() < 0.2 else EpisodeStatus.RUNNING,
                                      agent_id=i % 5, ticks=1 + i % 2, next_mask=mask))
    for e in experiences:
        one.observe(e)
    i = 0
    for size in [1, 2, 9, 30, 4, 60, 54]:  # sums to 160
        batch.observe_batch(experiences[i:i + size])
        i += size
    a, b = one.agent, batch.agent
    assert one.total_steps == batch.total_steps == 160 and a.total_steps == b.total_steps == 160
    assert np.array_equal(a.replay.rows, b.replay.rows) and (a.replay.pos, a.replay.size) == (b.replay.pos, b.replay.size)
    assert (a.replay.next_masks is None) == (not masked)
    if masked:
        assert np.array_equal(a.replay.next_masks, b.replay.next_masks)
    assert a._updates == b._updates > 0 and a._episode_losses == b._episode_losses
    assert torch.equal(a.q_params.param, b.q_params.param) and torch.equal(a.target_params, b.target_params)
    saved = [sorted(p.name for p in run.checkpoints_dir.glob("step_*")) for run in runs]
    assert saved[0] == saved[1] and len(saved[0]) == 3  # the last three milestones of 25, 50, ..., 150


@pytest.mark.parametrize("sizes", [(4, 64, 64, 2), (3, 5), (6, 32, 16, 8, 3)])
@pytest.mark.parametrize("huber", [True, False])
def test_hand_written_q_backward_equals_autograd_bit_for_bit(sizes, huber):
    from ecs_rl.algorithms.common import FlatParameters, mlp
    from ecs_rl.algorithms.mlp_backward import q_regression_backward

    torch.manual_seed(1)
    net = mlp(sizes, torch.nn.ReLU)
    flat = FlatParameters(net)
    obs, actions, targets = torch.randn(50, sizes[0]), torch.randint(0, sizes[-1], (50, 1)), torch.randn(50) * 3
    loss_fn = torch.nn.functional.smooth_l1_loss if huber else torch.nn.functional.mse_loss
    flat.zero_grad()
    expected_loss = loss_fn(net(obs).gather(1, actions).squeeze(1), targets)
    expected_loss.backward()
    expected = flat.param.grad.clone()
    flat.param.grad.fill_(7.0)  # stale values are overwritten, not added to
    loss = q_regression_backward(net, obs, actions, targets, huber=huber)
    assert torch.equal(flat.param.grad, expected) and torch.equal(loss, expected_loss)
    assert (expected != 0).sum() > len(expected) // 4  # a real gradient, not zeros on both sides
    if len(sizes) > 2:
        with pytest.raises(ValueError, match="needs an Mlp with relu activations"):
            q_regression_backward(mlp(sizes, torch.nn.Tanh), obs, actions, targets)


@pytest.mark.parametrize("n, clip", [(256, 0.2), (37, 0.05), (64, 0.5)])
def test_hand_written_ppo_backward_equals_autograd_bit_for_bit(n, clip):
    from ecs_rl.algorithms.mlp_backward import ppo_backward, ppo_losses

    agent = PpoAgent(OBS4, gym.spaces.Discrete(3), PpoConfig(seed=n))
    torch.manual_seed(n)
    with torch.no_grad():  # away from the orthogonal init, so ratios leave the clip range
        agent.params.param.add_(torch.randn_like(agent.params.param) * 0.3)
    obs, actions, returns = torch.randn(n, 4), torch.randint(0, 3, (n,)).float(), torch.randn(n)
    with torch.no_grad():
        old = agent.net.log_prob_entropy(obs, actions)[0] + torch.randn(n) * 0.1
    adv = torch.randn(n)
    adv[:3] = 0.0  # ties between the clipped and unclipped terms
    logp, entropy, ratio, pg, v, expected = autograd_ppo(agent, obs, actions, old, adv, returns, clip)
    agent.params.param.grad.fill_(7.0)  # stale values are overwritten, not added to
    terms = ppo_backward(agent.net.actor, agent.net.critic, obs, actions, old, adv, returns, clip, 0.5)
    pg_loss, v_loss, entropy_mean = ppo_losses(terms)
    log_ratio, ratio_out = terms.log_ratio, terms.ratio
    assert torch.equal(agent.params.param.grad, expected)
    assert torch.equal(pg_loss, pg) and torch.equal(v_loss, v) and torch.equal(entropy_mean, entropy.mean())
    assert torch.equal(ratio_out, ratio) and torch.equal(log_ratio, logp - old)
    assert ((ratio - 1).abs() > clip).any() or clip == 0.5  # the clipped branch is exercised
    assert (expected != 0).sum() > len(expected) // 2


def test_ppo_keeps_its_own_copy_of_observations_the_caller_reuses():
    agent = PpoAgent(OBS4, gym.spaces.Discrete(2), PpoConfig(n_steps=100))
    obs = np.ones((2, 4), dtype=np.float32)
    actions = agent.act_batch(obs, ActMode.EXPLORE, [0, 1])
    obs[:] = 5.0  # the loop writes the next observations into the same array
    for i in (0, 1):
        agent.observe(Experience(obs[i], actions[i], 1.0, obs[i], agent_id=i))
    assert [seg.obs[0].tolist() for seg in agent._segments.values()] == [[1.0] * 4, [1.0] * 4]


@pytest.mark.parametrize("make, field, value", [
    (lambda **kw: DqnConfig(**kw), "learning_rate", -1e-3),
    (lambda **kw: DqnConfig(**kw), "learning_rate", float("nan")),
    (lambda **kw: DqnConfig(**kw), "epsilon_start", 1.5),
    (lambda **kw: DqnConfig(**kw), "epsilon_end", -0.1),
    (lambda **kw: PpoConfig(**kw), "learning_rate", float("nan")),
    (lambda **kw: PpoConfig(**kw), "learning_rate", -2.5e-4),
])
def test_configs_refuse_wrong_values_at_construction(make, field, value):
    with pytest.raises(ValueError, match=field):
        make(**{field: value})


def test_a_resume_with_a_larger_budget_stretches_the_annealing_and_latest_keeps_dqn_replay(tmp_path, capsys):
    import json

    from ecs_rl.cli import main
    from ecs_rl.worlds import cartpole

    args = ["--eval-freq", "100000", "--full", "--root", str(tmp_path)]
    assert main(["train", "cartpole", "--algo", "ppo", "--steps", "512", *args]) == 0
    (run,) = tmp_path.glob("cartpole/ppo/*")
    assert main(["train", "--resume", str(run), "--steps", "1024", "--checkpoint-every", "256", "--eval-freq", "100000",
                 "--full"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["steps"] == 1024 and cfg["agent"]["anneal_steps"] == 1024
    agent = PpoAgent(cartpole.observation_space, cartpole.action_space, PpoConfig(**cfg["agent"]))
    state = agent.load(run / "checkpoints" / "step_768.pt")
    assert state["total_steps"] == agent.total_steps == 768
    # the update at step 768 follows the 1024-step horizon (the 512-step one would have annealed lr to 0)
    assert agent.optimizer.lr == pytest.approx(1e-3 * (1 - 768 / 1024))

    assert main(["train", "cartpole", "--steps", "300", "--checkpoint-every", "100", *args]) == 0
    (dqn_run,) = tmp_path.glob("cartpole/dqn/*")
    dqn = DqnAgent(cartpole.observation_space, cartpole.action_space)
    dqn.load(dqn_run / "checkpoints" / "latest.pt")
    assert dqn.replay.size == 300  # latest is the resume point: it keeps the replay buffer
    dqn.load(dqn_run / "checkpoints" / "step_300.pt")
    assert dqn.replay.size == 0  # numbered checkpoints leave it out (config.save_replay)

def flushes_denormals() -> bool:
    return (torch.tensor([1e-40], dtype=torch.float32) * 1).item() == 0.0


def test_building_agents_leaves_torch_process_settings_alone():
    from ecs_rl.algorithms import configure_torch, torch_settings

    before = torch_settings()
    try:
        torch.set_flush_denormal(False)
        torch.set_num_threads(2)
        assert not flushes_denormals()
        obs, act = gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(2)
        DqnAgent(obs, act, DqnConfig(learning_starts=1))
        PpoAgent(obs, act, PpoConfig())
        PpoAgent(obs, gym.spaces.Box(-1, 1, (2,), np.float32), PpoConfig())
        assert torch.get_num_threads() == 2 and not flushes_denormals()

        previous = configure_torch()  # the explicit, documented switch
        assert previous.num_threads == 2 and previous.flush_denormal is False
        assert torch.get_num_threads() == 1 and flushes_denormals()
        assert torch_settings().num_threads == 1 and torch_settings().flush_denormal is True
        configure_torch(**dataclasses.asdict(previous))
        assert torch.get_num_threads() == 2 and not flushes_denormals()
        with pytest.raises(ValueError, match="num_threads must be >= 1"):
            configure_torch(num_threads=0)
    finally:
        configure_torch(before.num_threads, before.flush_denormal)


def test_configs_no_longer_carry_torch_settings():
    with pytest.raises(TypeError):
        DqnConfig(num_threads=1)
    with pytest.raises(TypeError):
        PpoConfig(flush_denormal=True)


def test_dqn_reads_a_replay_buffer_saved_before_the_discount_column():
    obs, act = gym.spaces.Box(-1, 1, (3,), np.float32), gym.spaces.Discrete(2)
    agent = DqnAgent(obs, act, DqnConfig(gamma=0.9, buffer_size=8))
    old_rows = torch.arange(2 * 9, dtype=torch.float32).reshape(2, 9)  # obs, next_obs, action, reward, terminated
    agent.replay.load_state({**agent.replay.state(False), "rows": old_rows, "pos": 2, "size": 2})
    assert agent.replay.rows[:2, :9].tolist() == old_rows.tolist()
    assert agent.replay.rows[:2, 9].tolist() == pytest.approx([0.9, 0.9])  # one-tick transitions
