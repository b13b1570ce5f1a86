"""Behaviours of checkpoints, DQN, PPO, export, runs and tables that a mutation run found unchecked."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from ecs_rl import ActMode, EpisodeStatus, RunError, TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig
from ecs_rl.algorithms.common import CheckpointError, FlatAdam, load_checkpoint
from ecs_rl.algorithms.export import describe
from ecs_rl.algorithms.policy import GreedyPolicy
from ecs_rl.core.agent import RandomAgent
from ecs_rl.core.stats import format_table
from ecs_rl.core.types import Experience, Transitions

OBS = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
ACTIONS = gym.spaces.Discrete(3)


def test_a_file_torch_cannot_read_is_refused_naming_the_file_and_torchs_reason(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("just some text, not a checkpoint\n")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad, "dqn")
    message = str(err.value)
    assert message.startswith(f"checkpoint {bad} is not a readable torch checkpoint (")
    reason = message.split("(", 1)[1]
    assert reason != "None)" and len(reason) > 5


def test_a_torch_file_without_the_ecs_rl_header_is_refused_naming_the_file(tmp_path):
    other = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match=f"^checkpoint {other} is not an ecs-rl checkpoint$"):
        load_checkpoint(other, None)


def test_optimizer_state_of_another_size_is_refused_naming_both_sizes():
    saved = FlatAdam(nn.Parameter(torch.zeros(4)), lr=1e-3).state_dict()
    mine = FlatAdam(nn.Parameter(torch.zeros(3)), lr=1e-3)
    with pytest.raises(ValueError, match=r"optimizer state has \(4,\) values, expected \(3,\)"):
        mine.load_state_dict(saved)


def _rows(n, next_masks=None, status=None):
    rng = np.random.default_rng(0)
    return Transitions(
        obs=rng.uniform(-1, 1, (n, 3)).astype(np.float32), actions=rng.integers(3, size=n),
        rewards=rng.normal(size=n), next_obs=rng.uniform(-1, 1, (n, 3)).astype(np.float32),
        status=np.zeros(n, dtype=np.int64) if status is None else status,
        agent_ids=np.arange(10, 10 + n), ticks=np.ones(n, dtype=np.int64), next_masks=next_masks)


def test_dqn_refuses_a_next_mask_with_no_legal_action_naming_the_agent():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), learning_starts=100))
    masks = np.ones((3, 3), dtype=bool)
    masks[1] = False
    with pytest.raises(ValueError, match="next_mask of agent 11 allows no action at a state that is not terminal"):
        agent.observe_transitions(_rows(3, masks))


def test_dqn_episode_extras_before_any_update_hold_every_loss_figure_as_nan():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,)))
    agent.on_episode_start()
    extras = agent.episode_extras()
    assert {"loss_mean", "loss_std", "loss_max"} <= set(extras)
    assert all(np.isnan(extras[k]) for k in ("loss_mean", "loss_std", "loss_max"))


def test_dqn_epsilon_greedy_explores_row_by_row():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=1))
    obs = np.zeros((600, 3), dtype=np.float32)  # one greedy action for every row
    greedy = agent.epsilon_greedy(obs, None, np.random.default_rng(0))
    acted = agent.epsilon_greedy(obs, 0.5, np.random.default_rng(0))
    off = np.count_nonzero(acted != greedy)  # rows that explored and drew another action: about 600 * 0.5 * 2/3
    assert 150 < off < 250


def test_dqn_updates_as_soon_as_the_buffer_holds_one_batch():
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), batch_size=4, learning_starts=0, train_freq=4,
                                             target_update_interval=1000))
    before = [p.detach().clone() for p in agent.q_net.parameters()]
    agent.observe_transitions(_rows(4))
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.q_net.parameters()))


def test_describe_a_ppo_network_without_hidden_layers_names_ppos_activation():
    policy = GreedyPolicy(nn.Sequential(nn.Linear(3, 3)), 3, ACTIONS)
    header, linears = describe(policy, "ppo")
    assert header["architecture"]["activation"] == "tanh" and header["output"] == "logits" and len(linears) == 1
    header, _ = describe(policy)
    assert header["architecture"]["activation"] == "relu" and header["algorithm"] == "dqn"


def _ppo_after_one_update(batch_size, learning_rate):
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), n_steps=16, batch_size=batch_size, n_epochs=2,
                                             learning_rate=learning_rate, seed=0))
    rng = np.random.default_rng(1)
    obs = rng.uniform(-1, 1, 3).astype(np.float32)
    for t in range(16):
        action = int(agent.act_batch(obs[None], agent_ids=[0])[0])
        next_obs = rng.uniform(-1, 1, 3).astype(np.float32)
        agent.observe(Experience(obs, action, float(action == 1), next_obs,
                                 EpisodeStatus.TERMINATED if t % 4 == 3 else EpisodeStatus.RUNNING, agent_id=0))
        obs = next_obs
    return agent


def test_ppo_minibatches_cover_every_row_of_the_rollout_each_epoch():
    # with a learning rate of 0 the network never moves, so the update's value loss and entropy (means over the
    # rows of every minibatch) are the rollout's whatever the minibatch size, if each epoch takes every row once
    whole = _ppo_after_one_update(16, 0.0).episode_extras()
    quarters = _ppo_after_one_update(4, 0.0).episode_extras()
    assert np.isfinite(whole["value_loss"]) and whole["value_loss"] > 0
    for key in ("value_loss", "entropy"):
        assert quarters[key] == pytest.approx(whole[key], rel=1e-5)
    agent = _ppo_after_one_update(4, 1e-2)
    fresh = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), seed=0))
    after = list(agent.net.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(b, p) for b, p in zip(fresh.net.parameters(), after))


def test_ppo_acts_on_float64_and_integer_observations_as_on_float32():
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,), seed=0))
    obs = np.array([[0.5, -0.25, 1.0], [0.0, 1.0, -1.0]])
    want = agent.act_batch(obs.astype(np.float32), ActMode.EXPLOIT)
    assert np.array_equal(agent.act_batch(obs, ActMode.EXPLOIT), want)
    assert agent.act_batch([[1, 0, -1]], ActMode.EXPLOIT).shape == (1,)


def test_ppo_config_names_anneal_steps_when_annealing_without_it():
    with pytest.raises(ValueError, match=r"^PpoConfig\.anneal_steps must be set \(> 0\) when anneal_lr or "
                                         r"anneal_clip is on$"):
        PpoConfig(anneal_lr=True)


def test_a_random_agent_checkpoint_with_a_bad_step_count_is_called_corrupt_naming_the_file(tmp_path):
    agent = RandomAgent(ACTIONS, seed=0)
    path = tmp_path / "random.json"
    agent.save(path)
    state = json.loads(path.read_text())
    state["total_steps"] = "many"
    path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match=f"^checkpoint {path} is corrupt: .*many"):
        RandomAgent(ACTIONS).load(path)


def test_restore_repairs_a_torn_line_after_a_two_byte_line(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.train_log_path.write_bytes(b'{}\n{"episode": 2, "st')  # byte 2 is a newline, the last byte is not
    run.acquire_lock()
    notes = run.restore({})
    run.release_lock()
    assert run.train_log_path.read_bytes() == b"{}\n"
    assert any("removed a partial last line" in n for n in notes)


def test_a_bad_checkpoint_freq_is_refused_naming_the_argument():
    session = TrainingSession(RandomAgent(ACTIONS))
    with pytest.raises(ValueError, match=r"^checkpoint_freq must be an integer >= 1, got 0$"):
        session.with_checkpoint_freq(0)


def test_format_table_right_aligns_the_number_columns():
    table = format_table(["name", "reward"], [["a", "1.5"], ["longer", "10.25"]])
    assert table.splitlines() == ["name    reward", "------  ------", "a          1.5", "longer   10.25"]


class SilentlyFailingAgent(RandomAgent):
    """A custom agent whose load fails with an exception that carries no message."""

    def load(self, path):
        raise ValueError()


def test_resuming_from_a_checkpoint_whose_agent_fails_without_a_message_names_the_checkpoint(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    session = TrainingSession(RandomAgent(ACTIONS, seed=0)).with_run(run)
    session.save_latest()
    run.release_lock()
    with pytest.raises(RunError, match=f"^checkpoint {run.latest_path} does not load$"):
        TrainingSession(SilentlyFailingAgent(ACTIONS)).with_run(TrainingRun.resume(run.path))


def test_a_copy_that_cannot_replace_its_target_nor_clean_up_still_names_the_target(tmp_path, monkeypatch):
    from ecs_rl.core import files

    src = tmp_path / "a.pt"
    src.write_bytes(b"weights")
    target = tmp_path / "latest.pt"
    target.mkdir()  # a directory where the file should go: the rename fails
    real_unlink, calls = files.os.unlink, []

    def unlink_fails_after_the_first(path, *args, **kwargs):  # the cleanup of the linked temporary fails too
        calls.append(path)
        if len(calls) > 1:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(files.os, "unlink", unlink_fails_after_the_first)
    with pytest.raises(files.WriteError, match="latest.pt"):
        files.atomic_copy(src, target)
    assert len(calls) == 2
