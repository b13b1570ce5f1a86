"""Behaviours that mutation testing found unchecked (fifth sample): an acting copy exploring with the epsilon
its learner sent and a PPO copy's record of each decision, the checkpoint header's format version, the
config a DQN checkpoint records (one an agent can be rebuilt from) and every other field it holds, the rows
``observe_batch`` hands ``observe_transitions``, and the replay buffer's batched writes with 0/1 flags."""

from dataclasses import asdict

import gymnasium as gym
import numpy as np
import pytest
import torch

from ecs_rl import ActMode, EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig
from ecs_rl.algorithms.acting import ActingCopy, acting_weights
from ecs_rl.algorithms.common import save_checkpoint
from ecs_rl.algorithms.dqn import ReplayBuffer

from test_algorithms_mutants import BATCH, OBS

ACTIONS = gym.spaces.Discrete(3, start=2)  # the offset shows whether actions reach the env's numbering
MASKS = np.array([[True, False, True], [False, True, True], [True, True, False], [False, False, True]] * 4)


def test_a_dqn_acting_copy_explores_with_the_epsilon_its_learner_sent():
    learner = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=3))
    greedy = learner.act_batch(BATCH, ActMode.EXPLOIT, masks=MASKS)
    for epsilon, masks in [(1.0, None), (0.5, MASKS), (1.0, MASKS)]:
        copy = ActingCopy("dqn", OBS, ACTIONS, DqnConfig(hidden=(8,), seed=9), seed=4)
        copy.load(acting_weights(learner))
        copy.epsilon = epsilon
        acted = copy.act_batch(BATCH, ActMode.EXPLORE, masks=masks)
        # the learner's own rule with the copy's generator: the same draws, the same rows explore
        want = learner.epsilon_greedy(BATCH, epsilon, np.random.default_rng(4), masks)
        assert np.array_equal(acted, want), (epsilon, masks is None)
        assert set(acted.tolist()) <= {2, 3, 4}
        if masks is not None:
            assert MASKS[np.arange(16), acted - 2].all()  # exploring draws legal actions only
            assert not np.array_equal(acted, greedy)  # some rows explored
    copy.epsilon = 1.0  # exploiting ignores epsilon: the legal argmax, nothing drawn
    state = copy.rng.bit_generator.state
    assert np.array_equal(copy.act_batch(BATCH, ActMode.EXPLOIT, masks=MASKS), greedy)
    assert copy.rng.bit_generator.state == state


def _ppo_pair(version):
    learner = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), seed=1))
    copy = ActingCopy("ppo", OBS, ACTIONS, PpoConfig(hidden=(8,), seed=2), seed=5)
    copy.load(acting_weights(learner), version=version)
    return learner, copy


def test_a_ppo_acting_copy_samples_as_its_learners_network_and_records_each_decision():
    learner, copy = _ppo_pair(version=3)
    obs = BATCH[:4].astype(np.float64).tolist()  # float64 rows as plain lists: cast to the network's float32
    masks = MASKS[:4].copy()
    ids = [7, 3, 11, 2]
    acted = copy.act_batch(obs, ActMode.EXPLORE, agent_ids=ids, masks=masks)
    with torch.inference_mode():
        raw, logps = learner.net.sample(torch.from_numpy(BATCH[:4]), np.random.default_rng(5),
                                        torch.from_numpy(MASKS[:4]))
    assert acted.tolist() == (raw + 2).tolist() and MASKS[np.arange(4), raw].all()
    masks[:] = True  # the caller reuses its array: the decisions keep the masks they were sampled under
    assert sorted(copy.behaviour) == [2, 3, 7, 11]
    for row, agent_id in enumerate(ids):
        action, logp, mask, version = copy.take(agent_id)
        assert int(action) == raw[row] and logp == pytest.approx(float(logps[row]))
        assert mask.tolist() == MASKS[row].tolist() and version == 3
    assert copy.behaviour == {}
    # no ids: rows 0..n-1; no masks: none kept; one flat observation is one row
    acted = copy.act_batch(BATCH[:3], ActMode.EXPLORE)
    assert sorted(copy.behaviour) == [0, 1, 2] and all(d[2] is None for d in copy.behaviour.values())
    assert [int(copy.behaviour[i][0]) + 2 for i in range(3)] == acted.tolist()
    assert copy.act_batch(BATCH[5], ActMode.EXPLORE, agent_ids=[40]).shape == (1,) and 40 in copy.behaviour


def test_a_ppo_acting_copy_exploits_the_legal_argmax_and_records_nothing():
    learner, copy = _ppo_pair(version=0)
    free = learner.act_batch(BATCH, ActMode.EXPLOIT)
    forbid = np.ones((16, 3), dtype=bool)
    forbid[np.arange(16), free - 2] = False  # each row's unmasked argmax is illegal
    acted = copy.act_batch(BATCH.astype(np.float64), ActMode.EXPLOIT, agent_ids=range(16), masks=forbid)
    assert np.array_equal(acted, learner.act_batch(BATCH, ActMode.EXPLOIT, masks=forbid))
    assert not np.any(acted == free) and np.array_equal(copy.act_batch(BATCH, ActMode.EXPLOIT), free)
    assert copy.behaviour == {}
    with pytest.raises(ValueError, match=r"masks must be a bool array of shape \(2, 3\), got dtype bool shape \(2, 2"):
        copy.act_batch(BATCH[:2], ActMode.EXPLORE, masks=np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"masks row 1 allows no action"):
        copy.act_batch(BATCH[:2], ActMode.EXPLOIT, masks=np.array([[True, True, True], [False, False, False]]))


def test_a_checkpoint_starts_with_its_format_name_version_and_algorithm(tmp_path):
    save_checkpoint(tmp_path / "c.pt", "ppo", {"note": "x", "n": 3})
    data = torch.load(tmp_path / "c.pt", weights_only=True)
    assert data == {"format": "ecs-rl-checkpoint", "format_version": 1, "algorithm": "ppo", "note": "x", "n": 3}


def _trained_dqn(config):
    agent = DqnAgent(OBS, ACTIONS, config)
    rng = np.random.default_rng(0)
    experiences = [Experience(rng.uniform(-1, 1, 3), 2 + i % 3, float(i), rng.uniform(-1, 1, 3),
                              EpisodeStatus.TERMINATED if i % 5 == 4 else EpisodeStatus.RUNNING, agent_id=i % 2,
                              next_mask=MASKS[i % 4] if i % 2 else None) for i in range(12)]
    agent.on_episode_start()
    agent.observe_batch(experiences)
    assert agent._updates > 0 and agent.replay.next_masks is not None
    return agent


CONFIG = DqnConfig(hidden=(8, 4), batch_size=4, learning_starts=4, buffer_size=32, target_update_interval=5,
                   epsilon_decay_steps=100, seed=6)


def test_a_dqn_checkpoint_records_every_part_of_the_training_state(tmp_path):
    agent = _trained_dqn(CONFIG)
    agent.save(tmp_path / "a.pt", session={"episodes": 4})
    data = torch.load(tmp_path / "a.pt", weights_only=True)
    assert sorted(data) == sorted(["format", "format_version", "algorithm", "config", "shapes", "action_space",
                                   "q_net", "target_net", "optimizer", "counters", "episode_losses", "explore_rng",
                                   "replay", "session"])
    assert (data["format"], data["format_version"], data["algorithm"]) == ("ecs-rl-checkpoint", 1, "dqn")
    assert data["config"] == {**asdict(CONFIG), "hidden": [8, 4]}
    assert DqnConfig(**data["config"]) == CONFIG  # the recorded config rebuilds the agent
    assert data["shapes"] == {"obs_dim": 3, "n_actions": 3, "hidden": [8, 4]}
    assert data["action_space"] == {"kind": "discrete", "n": 3, "start": 2}
    for name in ("q_net", "target_net"):
        mine = getattr(agent, name).state_dict()
        assert sorted(data[name]) == sorted(mine) and all(torch.equal(data[name][k], mine[k]) for k in mine)
    assert data["optimizer"]["step"] == agent.optimizer.step_count == agent._updates
    assert data["counters"] == {"steps": 12, "updates": agent._updates}
    assert data["episode_losses"] == agent._episode_losses and len(data["episode_losses"]) == agent._updates
    assert data["explore_rng"] == agent.explore_rng.bit_generator.state
    assert data["replay"] == {"rng": agent.replay.rng.bit_generator.state, "pos": 12, "size": 12}
    assert data["session"] == {"episodes": 4}

    other = DqnAgent(OBS, ACTIONS, DqnConfig(**data["config"]))
    assert other.load(tmp_path / "a.pt") == {"episodes": 4}
    assert torch.equal(other.q_params.param, agent.q_params.param)
    assert np.array_equal(other.act_batch(BATCH), agent.act_batch(BATCH))  # the exploration draws go on alike


@pytest.mark.parametrize("save_replay, include_replay, kept", [
    (False, None, False), (True, None, True), (False, True, True), (True, False, False),
])
def test_a_dqn_checkpoint_keeps_the_replay_contents_as_asked(tmp_path, save_replay, include_replay, kept):
    config = DqnConfig(**{**asdict(CONFIG), "save_replay": save_replay})
    agent = _trained_dqn(config)
    agent.save(tmp_path / "a.pt", include_replay=include_replay)
    replay = torch.load(tmp_path / "a.pt", weights_only=True)["replay"]
    assert ("rows" in replay) == kept and ("next_masks" in replay) == kept
    assert agent.load(tmp_path / "a.pt") is None
    assert agent.replay.size == (12 if kept else 0)
    if kept:
        assert np.array_equal(replay["rows"].numpy(), agent.replay.rows[:12])
        assert np.array_equal(replay["next_masks"].numpy(), agent.replay.next_masks[:12])


class Recording(DqnAgent):
    """A DQN that keeps each batch ``observe_transitions`` is handed."""

    def observe_transitions(self, batch):
        self.batches = [*getattr(self, "batches", []), batch]
        super().observe_transitions(batch)


def test_dqn_observe_batch_hands_observe_transitions_the_same_rows():
    statuses = [EpisodeStatus.RUNNING, EpisodeStatus.TERMINATED, EpisodeStatus.TRUNCATED, EpisodeStatus.RUNNING]
    experiences = [Experience(BATCH[i], 2 + i % 3, 0.5 * i - 1, BATCH[i + 4], statuses[i], agent_id=10 + 3 * i,
                              ticks=1 + i, next_mask=MASKS[i] if i in (0, 1) else None) for i in range(4)]
    agent = Recording(OBS, ACTIONS, DqnConfig(hidden=(8,), learning_starts=100))
    agent.observe_batch(experiences)
    agent.observe_batch(experiences[2:])
    full, unmasked = agent.batches
    assert (full.status == 1).tolist() == [False, True, False, False] and full.agent_ids.tolist() == [10, 13, 16, 19]
    assert full.ticks.tolist() == [1, 2, 3, 4] and full.actions.tolist() == [2, 3, 4, 2]
    assert full.rewards.tolist() == [-1.0, -0.5, 0.0, 0.5]
    assert np.array_equal(full.obs, BATCH[:4]) and np.array_equal(full.next_obs, BATCH[4:8])
    assert full.next_masks.tolist() == [MASKS[0].tolist(), MASKS[1].tolist(), [True] * 3, [True] * 3]
    assert unmasked.next_masks is None and unmasked.agent_ids.tolist() == [16, 19]
    for batch, rows in ((full, experiences), (unmasked, experiences[2:])):
        for got, want in zip(batch.experiences(), rows):
            assert (got.agent_id, got.terminated, got.ticks, int(got.action)) == \
                (want.agent_id, want.terminated, want.ticks, want.action)
    assert agent.replay.terminated.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert agent.replay.next_masks[:6].tolist() == [MASKS[0].tolist()] + [[True] * 3] * 5  # terminal: all legal


def test_replay_add_many_writes_the_rows_add_writes_with_0_1_flags_and_wraps():
    """Batches written at once (terminated given as 0/1 numbers) equal the same rows added one at a time."""
    batched, single = (ReplayBuffer(capacity=5, obs_dim=2, seed=0, gamma=0.9, n_actions=3) for _ in range(2))
    rng = np.random.default_rng(1)
    masks = np.array([[True, False, False], [False, True, False], [False, False, True]])
    for n, flags, with_masks in [(2, [0, 0], False), (4, [1, 0, 0, 0], False), (3, [0, 1, 0], True),
                                 (1, [0], True)]:
        obs, next_obs = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        actions, rewards, discounts = rng.integers(3, size=n), rng.normal(size=n), rng.uniform(size=n)
        next_masks = masks[:n] if with_masks else None
        batched.add_many(obs, actions, rewards, next_obs, np.array(flags, dtype=np.int8), discounts, next_masks)
        for i in range(n):
            single.add(obs[i], actions[i], rewards[i], next_obs[i], flags[i], discounts[i],
                       None if next_masks is None else next_masks[i])
        assert np.array_equal(batched.rows, single.rows)
        if single.next_masks is None:
            assert batched.next_masks is None
        else:
            assert np.array_equal(batched.next_masks, single.next_masks)
        assert (batched.pos, batched.size) == (single.pos, single.size)
        assert type(batched.pos) is int and type(batched.size) is int
    # 10 rows through 5 slots, the second batch wrapping into slot 0, the last row in slot 4
    assert (batched.pos, batched.size) == (0, 5)
    assert batched.terminated.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert batched.rows[4, 6:].tolist() == [0.0, np.float32(discounts[0])]  # terminated, discount columns
    # a terminal next state needs no mask (stored all legal); rows stored before any mask are all legal
    assert batched.next_masks.tolist() == [[True] * 3, [True, False, False], [True] * 3, [False, False, True],
                                           [True, False, False]]
