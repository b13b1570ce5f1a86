"""Acting copies (the distributed workers' policies) and checkpoint export, in one process."""

import gymnasium as gym
import numpy as np
import pytest

from ecs_rl import ActMode, EpisodeStatus, Experience, TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig
from ecs_rl.algorithms.acting import ActingCopy, acting_weights
from ecs_rl.algorithms.export import ExportError, export_checkpoint
from ecs_rl.core.stats import Max, Min
from ecs_rl.inference import load_policy

OBS = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
ACTIONS = gym.spaces.Discrete(3)
BATCH = np.random.default_rng(0).uniform(-1, 1, (16, 3)).astype(np.float32)


def test_a_dqn_acting_copy_acts_greedily_as_its_learner_once_given_its_weights():
    learner = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=3))
    copy = ActingCopy("dqn", OBS, ACTIONS, {"hidden": (8,), "seed": 99}, seed=0)
    assert copy.epsilon == 1.0 and copy.version == 0 and copy.behaviour == {}
    copy.load(acting_weights(learner), version=4)
    assert copy.version == 4
    want = learner.act_batch(BATCH, ActMode.EXPLOIT)
    assert np.array_equal(copy.act_batch(BATCH, ActMode.EXPLOIT), want)
    copy.epsilon = 0.0
    assert np.array_equal(copy.act_batch(BATCH, ActMode.EXPLORE), want)
    masks = np.ones((16, 3), dtype=bool)
    masks[:, want[0]] = False
    assert not np.any(copy.act_batch(BATCH, ActMode.EXPLOIT, masks=masks) == want[0])


def test_a_ppo_acting_copy_remembers_each_agents_decision_until_taken():
    learner = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), seed=1))
    copy = ActingCopy("ppo", OBS, ACTIONS, PpoConfig(hidden=(8,), seed=2), seed=0)
    assert copy.epsilon == 0.0
    copy.load(acting_weights(learner), version=7)
    assert np.array_equal(copy.act_batch(BATCH, ActMode.EXPLOIT), learner.act_batch(BATCH, ActMode.EXPLOIT))
    assert copy.behaviour == {}  # exploiting remembers nothing
    mask = np.array([[True, False, True]] * 2)
    actions = copy.act_batch(BATCH[:2], ActMode.EXPLORE, agent_ids=[10, 20], masks=mask)
    assert set(copy.behaviour) == {10, 20} and 1 not in actions
    raw, logp, kept_mask, version = copy.take(10)
    assert int(raw) == actions[0] and logp < 0 and kept_mask.tolist() == [True, False, True] and version == 7
    copy.forget(20)
    copy.forget(30)  # never acted: nothing to forget
    assert copy.behaviour == {}
    with pytest.raises(KeyError):
        copy.take(10)
    # the learner takes the copy's decision as its own and learns from the transition
    copy.act_batch(BATCH[:1], ActMode.EXPLORE, agent_ids=[5])
    raw, logp, kept_mask, _ = copy.take(5)
    learner.decided(5, BATCH[0], raw, logp, kept_mask)
    learner.observe(Experience(BATCH[0], int(raw), 1.0, BATCH[1], EpisodeStatus.RUNNING, agent_id=5))
    with pytest.raises(RuntimeError, match="agent 5"):
        learner.observe(Experience(BATCH[0], int(raw), 1.0, BATCH[1], EpisodeStatus.RUNNING, agent_id=5))


def test_an_acting_copy_of_another_algorithm_is_refused():
    with pytest.raises(ValueError, match="an acting copy is of algorithm 'dqn' or 'ppo', got 'sac'"):
        ActingCopy("sac", OBS, ACTIONS, {}, seed=0)
    with pytest.raises(TypeError, match="needs a DqnAgent or PpoAgent, got str"):
        acting_weights("agent")


def test_export_checkpoint_writes_a_run_s_greedy_policy(tmp_path):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=5))
    session = TrainingSession(agent).with_run(TrainingRun.create("exp", root=tmp_path))
    session.save_checkpoint()
    session.close()
    policy = export_checkpoint(tmp_path / "exp", tmp_path / "policy.npz", verify=50)
    exported = load_policy(tmp_path / "policy.npz")
    want = agent.act_batch(BATCH, ActMode.EXPLOIT)
    assert np.array_equal(policy.act_batch(BATCH), want) and np.array_equal(exported.act_batch(BATCH), want)
    with pytest.raises(ExportError, match=r"policy.txt: unknown extension '.txt'"):
        export_checkpoint(tmp_path / "exp", tmp_path / "policy.txt")
    assert not (tmp_path / "policy.txt").exists()


def test_min_and_max_keep_the_extreme_not_the_last_value():
    low, high = Min(), Max()
    for v in (3.0, -2.0, 5.0, 1.0):
        low.update(v)
        high.update(v)
    assert (low.value, high.value) == (-2.0, 5.0)
    low.reset()
    assert np.isnan(low.value)


def masked_rollout(agent, steps, start=0):
    rng = np.random.default_rng(start)
    for t in range(start, start + steps):
        obs = rng.uniform(-1, 1, 3).astype(np.float32)
        mask = np.array([True, t % 2 == 0, True])
        action = agent.act(obs, ActMode.EXPLORE, 0, mask)
        agent.observe(Experience(obs, action, float(action == 2), rng.uniform(-1, 1, 3).astype(np.float32),
                                 EpisodeStatus.RUNNING, next_mask=mask))


def test_ppo_saved_mid_rollout_with_masks_resumes_exactly(tmp_path):
    import torch

    config = PpoConfig(n_steps=6, batch_size=3, n_epochs=2, hidden=(8,), seed=4)
    never_saved, saved = PpoAgent(OBS, ACTIONS, config), PpoAgent(OBS, ACTIONS, config)
    masked_rollout(never_saved, 4)
    masked_rollout(saved, 4)
    saved.save(tmp_path / "mid.pt")
    resumed = PpoAgent(OBS, ACTIONS, config)
    resumed.load(tmp_path / "mid.pt")
    masked_rollout(never_saved, 4, start=4)
    masked_rollout(resumed, 4, start=4)
    assert never_saved.updates == resumed.updates == 1
    for a, b in zip(never_saved.net.parameters(), resumed.net.parameters()):
        assert torch.equal(a, b)


def test_ppo_takes_decisions_made_elsewhere_with_whole_number_masks():
    learner = PpoAgent(OBS, ACTIONS, PpoConfig(n_steps=2, batch_size=2, n_epochs=1, hidden=(8,)))
    for t in range(2):
        learner.decided(0, BATCH[t], np.int64(0), -1.1, [1, 0, 1])
        learner.observe(Experience(BATCH[t], 0, 1.0, BATCH[t + 1], EpisodeStatus.RUNNING))
    assert learner.updates == 1


def test_log_prob_entropy_keeps_the_entropy_gradient_by_default():
    import torch

    agent = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,)))
    obs = torch.from_numpy(BATCH[:4])
    logp, entropy = agent.net.log_prob_entropy(obs, torch.zeros(4, dtype=torch.long))
    assert entropy.requires_grad and logp.requires_grad and logp.shape == entropy.shape == (4,)
    _, without = agent.net.log_prob_entropy(obs, torch.zeros(4, dtype=torch.long), with_entropy_grad=False)
    assert not without.requires_grad and torch.allclose(without, entropy.detach())
