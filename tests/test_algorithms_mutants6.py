"""Behaviours of export and PPO that a mutation run found unchecked: the header ``describe`` builds and the
errors it raises, the algorithm ``export_policy`` passes on, decisions made elsewhere learning as the agent's
own, and checkpoints holding rows sampled with and without a mask (or written before some fields existed)."""

import json
import re

import gymnasium as gym
import numpy as np
import onnx
import pytest
import torch
from torch import nn

from exported import make_policy
from test_algorithms_mutants import ACTIONS, BATCH, OBS

import ecs_rl
from ecs_rl import EpisodeStatus, Experience
from ecs_rl.algorithms import DqnAgent, DqnConfig, GreedyPolicy, PpoAgent, PpoConfig
from ecs_rl.algorithms.acting import ActingCopy, acting_weights
from ecs_rl.algorithms.common import CheckpointError
from ecs_rl.algorithms.export import ExportError, describe, export_policy
from ecs_rl.inference import load_policy
from ecs_rl.inference.header import PolicyFileError

# -- describe ----------------------------------------------------------------------------------------------------


def _common(algorithm, output, sizes, activation, obs_dim, action):
    return {"format": "ecs-rl-policy", "format_version": 1, "ecs_rl_version": ecs_rl.__version__,
            "algorithm": algorithm, "output": output,
            "architecture": {"kind": "mlp", "sizes": sizes, "activation": activation},
            "observation_space": {"kind": "box", "shape": [obs_dim], "dtype": "float32"}, "action_space": action}


def test_describe_writes_every_header_field_of_a_dqn_a_ppo_and_a_box_policy():
    dqn = make_policy("dqn")  # Discrete(5, start=1), sizes 6-32-16-5, ReLU
    header, linears = describe(dqn)
    assert header == _common("dqn", "q_values", [6, 32, 16, 5], "relu", 6, {"kind": "discrete", "n": 5, "start": 1})
    assert linears == list(dqn.network)[0::2] and all(isinstance(m, nn.Linear) for m in linears)
    ppo = make_policy("ppo-discrete")  # Discrete(4), sizes 6-24-24-4, Tanh
    header, linears = describe(ppo)
    assert header == _common("ppo", "logits", [6, 24, 24, 4], "tanh", 6, {"kind": "discrete", "n": 4, "start": 0})
    assert len(linears) == 3
    box = make_policy("ppo-box", actions=gym.spaces.Box(np.array([-3.0, -np.inf], np.float32),
                                                         np.array([0.5, 4.0], np.float32)))
    header, _ = describe(box)
    assert header == _common("ppo", "mean", [6, 24, 24, 2], "tanh", 6,
                             {"kind": "box", "shape": [2], "dtype": "float32", "low": [-3.0, "-inf"],
                              "high": [0.5, 4.0]})


def test_describe_takes_the_algorithm_it_is_told_and_the_activation_the_network_has():
    relu_told_ppo, _ = describe(make_policy("dqn"), "ppo")
    assert (relu_told_ppo["algorithm"], relu_told_ppo["output"]) == ("ppo", "logits")
    assert relu_told_ppo["architecture"]["activation"] == "relu"
    tanh_told_dqn, _ = describe(make_policy("ppo-discrete"), "dqn")
    assert (tanh_told_dqn["algorithm"], tanh_told_dqn["output"]) == ("dqn", "q_values")
    assert tanh_told_dqn["architecture"]["activation"] == "tanh"
    single = GreedyPolicy(nn.Sequential(nn.Linear(3, 2)), 3, gym.spaces.Discrete(2, start=-1))
    for told, activation, algorithm, output in ((None, "relu", "dqn", "q_values"), ("dqn", "relu", "dqn", "q_values"),
                                                ("ppo", "tanh", "ppo", "logits")):
        header, linears = describe(single, told)
        assert (header["architecture"]["activation"], header["algorithm"], header["output"]) == (
            activation, algorithm, output), told
        assert header["architecture"]["sizes"] == [3, 2] and header["action_space"]["start"] == -1
        assert len(linears) == 1


@pytest.mark.parametrize("layers", [
    [nn.Linear(3, 4), nn.ReLU()],  # ends on an activation
    [nn.Linear(3, 4), nn.ReLU(), nn.ReLU()],  # an activation where a Linear belongs
    [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)],  # two activations
    [nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)],  # an activation that does not export
])
def test_describe_refuses_networks_other_than_an_mlp_with_one_known_activation(layers):
    network = nn.Sequential(*layers)
    policy = GreedyPolicy(network, 3, gym.spaces.Discrete(2))
    with pytest.raises(ExportError, match="^" + re.escape(
            "only MLPs of Linear layers with one activation (ReLU or Tanh) between them export; got "
            f"{policy.network}") + "$"):
        describe(policy)


@pytest.mark.parametrize("network, obs_dim, space, fault", [
    (nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 5)), 3, gym.spaces.Discrete(4),
     "the network writes 5 values but action_space is Discrete(4)"),
    (nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2)), 4, gym.spaces.Discrete(2),
     "the network reads 3 numbers but observation_space has shape (4,)"),
    (nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)), 3, gym.spaces.Box(-1, 1, (2,), np.int32),
     "action_space box needs a float dtype, got 'int32'"),
])
def test_a_network_that_does_not_fit_its_spaces_is_refused_before_anything_is_written(tmp_path, network, obs_dim,
                                                                                        space, fault):
    policy = GreedyPolicy(network, obs_dim, space)
    message = "^" + re.escape(f"policy file (being exported): {fault}") + "$"
    with pytest.raises(PolicyFileError, match=message):
        describe(policy)
    with pytest.raises(PolicyFileError, match=message):
        export_policy(policy, tmp_path / "p.npz")
    assert not list(tmp_path.iterdir())


# -- export_policy -----------------------------------------------------------------------------------------------


def test_export_policy_writes_the_algorithm_it_is_told_in_either_format(tmp_path):
    policy = make_policy("dqn", seed=2)  # a ReLU network, which describe alone would call DQN's
    assert export_policy(policy, tmp_path / "p.npz", algorithm="ppo", verify=50) is True
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        header = json.loads(data["header"].tobytes().decode())
    assert (header["algorithm"], header["output"]) == ("ppo", "logits")
    assert export_policy(policy, tmp_path / "p.onnx", algorithm="ppo", verify=50) is True
    model = onnx.load(tmp_path / "p.onnx")
    header = json.loads({p.key: p.value for p in model.metadata_props}["ecs_rl"])
    assert (header["algorithm"], header["output"]) == ("ppo", "logits")
    assert [o.name for o in model.graph.output] == ["logits"]
    obs = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    for ext in ("npz", "onnx"):
        assert (load_policy(tmp_path / f"p.{ext}").act_batch(obs) == policy.act_batch(obs)).all()


def test_export_policy_without_a_check_says_it_did_not_check(tmp_path):
    policy = make_policy("ppo-discrete", seed=1)
    assert export_policy(policy, tmp_path / "p.npz", verify=0) is False
    assert export_policy(policy, tmp_path / "q.npz", verify=1) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz", "q.npz"]


# -- PPO: decisions made elsewhere ---------------------------------------------------------------------------------


MASKED = np.array([[True, False, True], [False, True, True]])


def _round(agent_ids, t):
    """Step t's observations for the agents, and their masks: every other step without any."""
    obs = BATCH[(np.arange(len(agent_ids)) + 3 * t) % len(BATCH)]
    return obs, (None if t % 2 == 0 else MASKED[:len(agent_ids)])


def test_ppo_learns_from_decisions_made_elsewhere_exactly_as_from_its_own():
    config = PpoConfig(n_steps=4, batch_size=4, n_epochs=2, hidden=(8,), seed=7)
    own, told = PpoAgent(OBS, ACTIONS, config), PpoAgent(OBS, ACTIONS, config)
    worker = ActingCopy("ppo", OBS, ACTIONS, config, seed=11)
    worker.load(acting_weights(own))
    own.sample_rng = np.random.default_rng(11)  # the worker's draws: the same decisions on both sides
    ids = [5, 9]
    for t in range(4):
        obs, masks = _round(ids, t)
        mine = own.act_batch(obs, agent_ids=ids, masks=masks)
        assert (worker.act_batch(obs, agent_ids=ids, masks=masks) == mine).all()
        for row, agent_id in enumerate(ids):
            action, logp, mask, _ = worker.take(agent_id)
            # as a worker's message brings them: plain lists, whole-number masks, the observation as a row
            told.decided(agent_id, [obs[row].tolist()], action, logp, None if mask is None else mask.astype(int))
        for agent in (own, told):
            for row, agent_id in enumerate(ids):
                agent.observe(Experience(obs[row], int(mine[row]), float(mine[row] == 2) - 0.5 * row,
                                         obs[(row + 1) % len(obs)], EpisodeStatus.RUNNING, agent_id=agent_id))
    assert own.updates == told.updates == 1 and own.total_steps == told.total_steps == 8
    for a, b in zip(own.net.parameters(), told.net.parameters()):
        assert torch.equal(a, b)
    assert own.episode_extras() == told.episode_extras()


def test_ppo_decisions_made_elsewhere_keep_their_mask_for_the_update():
    config = PpoConfig(n_steps=2, batch_size=2, n_epochs=1, hidden=(8,), seed=3)
    masked, unmasked = PpoAgent(OBS, ACTIONS, config), PpoAgent(OBS, ACTIONS, config)
    for t in range(2):
        masked.decided(0, BATCH[t], np.int64(2), -0.2, np.array([False, False, True]))
        unmasked.decided(0, BATCH[t], np.int64(2), -0.2)
        for agent in (masked, unmasked):
            agent.observe(Experience(BATCH[t], 2, 1.0, BATCH[t + 1], EpisodeStatus.RUNNING))
    assert masked.updates == unmasked.updates == 1
    # under the mask action 2 is certain: log-probability 0, so the policy loss sees a ratio of exp(0.2)
    assert masked.episode_extras()["approx_kl"] != pytest.approx(unmasked.episode_extras()["approx_kl"], rel=1e-3)


def test_ppo_refuses_a_decision_made_elsewhere_on_an_observation_of_another_size_naming_all():
    agent = PpoAgent(OBS, ACTIONS, PpoConfig(hidden=(8,)))
    with pytest.raises(ValueError, match=r"^PpoAgent\.decided: agent 12's observation has 6 values \(shape "
                                         r"\(2, 3\)\); the policy's observations have 3$"):
        agent.decided(12, np.zeros((2, 3)), np.int64(0), -1.1)
    agent.decided(12, np.zeros(3), np.int64(0), -1.1)  # the right size is taken (a transition may follow)
    agent.observe(Experience(np.zeros(3), 0, 1.0, np.zeros(3), EpisodeStatus.RUNNING, agent_id=12))
    assert agent.total_steps == 1


# -- PPO checkpoints ----------------------------------------------------------------------------------------------


CONFIG = PpoConfig(n_steps=5, batch_size=4, n_epochs=2, hidden=(8,), seed=21)


def _play(agent, rounds, start=0, ids=(5, 9)):
    """Rounds of act + observe for ``ids``; returns the actions taken."""
    taken = []
    for t in range(start, start + rounds):
        obs, masks = _round(list(ids), t)
        actions = agent.act_batch(obs, agent_ids=list(ids), masks=masks)
        taken.append(actions.tolist())
        for row, agent_id in enumerate(ids):
            agent.observe(Experience(obs[row], int(actions[row]), float(actions[row] == 2) - 0.5 * row,
                                     obs[(row + 1) % len(obs)], EpisodeStatus.RUNNING, agent_id=agent_id))
    return taken


def _mid_rollout():
    """An agent after one update, with a departed agent's closed segment, two live segments whose rows were
    sampled with and without masks, and two decisions (one masked) awaiting their transitions."""
    agent = PpoAgent(OBS, ACTIONS, CONFIG)
    _play(agent, 5)  # the first update (5 rows per agent, in minibatches of 4)
    for t in (4, 6):  # rounds without masks
        _play(agent, 1, start=t, ids=(3,))
    agent.forget(3)
    _play(agent, 3, start=5)  # rows: masked, without a mask, masked
    agent.act_batch(BATCH[:2], agent_ids=[5, 9], masks=np.array([[True, True, False], [True, True, True]]))
    return agent


def _finish(agent):
    """The pending transitions, then rounds up to the next update; the actions taken."""
    for row, agent_id in enumerate((5, 9)):
        agent.observe(Experience(BATCH[row], 0, 1.0, BATCH[row + 2], EpisodeStatus.RUNNING, agent_id=agent_id))
    return _play(agent, 3, start=8)


def _same_agents(a, b):
    assert (a.updates, a.total_steps) == (b.updates, b.total_steps)
    for x, y in zip(a.net.parameters(), b.net.parameters()):
        assert torch.equal(x, y)
    assert a.episode_extras() == b.episode_extras()


def test_a_checkpoint_stores_a_segments_unmasked_rows_as_all_legal_and_none_without_any_mask(tmp_path):
    agent = _mid_rollout()
    agent.save(tmp_path / "mid.pt")
    data = torch.load(tmp_path / "mid.pt", weights_only=True)
    segments = {s["agent_id"]: s for s in data["segments"]}
    for row, agent_id in enumerate((5, 9)):  # rounds 5 to 7: masked, without a mask, masked
        assert segments[agent_id]["masks"].tolist() == [MASKED[row].tolist(), [True] * 3, MASKED[row].tolist()]
    assert [s["masks"] for s in data["closed"]] == [None]  # agent 3's rows: all sampled without a mask
    pending = {p["agent_id"]: p["mask"] for p in data["pending"]}
    assert pending[5].tolist() == [True, True, False] and pending[9].tolist() == [True, True, True]
    one = PpoAgent(OBS, ACTIONS, CONFIG)  # one masked row among unmasked ones
    _play(one, 1, start=0, ids=(4,))
    _play(one, 1, start=1, ids=(4,))
    one.save(tmp_path / "one.pt")
    (segment,) = torch.load(tmp_path / "one.pt", weights_only=True)["segments"]
    assert segment["masks"].tolist() == [[True] * 3, MASKED[0].tolist()]


def test_ppo_resumed_from_a_checkpoint_continues_exactly_as_if_never_saved(tmp_path):
    never_saved, saved = _mid_rollout(), _mid_rollout()
    saved.save(tmp_path / "mid.pt", session={"episodes": 7, "name": "fox"})
    resumed = PpoAgent(OBS, ACTIONS, CONFIG)
    assert resumed.load(tmp_path / "mid.pt") == {"episodes": 7, "name": "fox"}
    _same_agents(resumed, never_saved)  # counters and the last update's figures
    assert not np.isnan(resumed.episode_extras()["policy_loss"])
    assert _finish(resumed) == _finish(never_saved)  # the same draws (sample rng)
    assert resumed.updates == 2
    _same_agents(resumed, never_saved)  # the same update (closed + live segments, masks, shuffle rng)
    saved.save(tmp_path / "plain.pt")
    assert PpoAgent(OBS, ACTIONS, CONFIG).load(tmp_path / "plain.pt") is None


def test_ppo_loads_a_checkpoint_written_before_closed_segments_pending_masks_and_discounts(tmp_path):
    reference = PpoAgent(OBS, ACTIONS, CONFIG)
    _play(reference, 2)
    reference.act_batch(BATCH[:2], agent_ids=[5, 9])  # pending decisions sampled without a mask
    reference.save(tmp_path / "new.pt")
    data = torch.load(tmp_path / "new.pt", weights_only=True)
    assert data.pop("closed") == []
    for p in data["pending"]:
        assert p.pop("mask") is None
    for s in data["segments"]:
        s.pop("discounts")
    torch.save(data, tmp_path / "old.pt")
    old, new = PpoAgent(OBS, ACTIONS, CONFIG), PpoAgent(OBS, ACTIONS, CONFIG)
    old.load(tmp_path / "old.pt")
    new.load(tmp_path / "new.pt")
    assert _finish(old) == _finish(new)
    assert old.updates == 1
    _same_agents(old, new)


def test_ppo_refuses_checkpoints_of_another_algorithm_shape_or_with_a_part_missing_naming_the_file(tmp_path):
    agent = PpoAgent(OBS, ACTIONS, CONFIG)
    DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,))).save(tmp_path / "dqn.pt")
    with pytest.raises(CheckpointError, match=re.escape(
            f"checkpoint {tmp_path / 'dqn.pt'} holds a 'dqn' agent, not a 'ppo' agent")):
        agent.load(tmp_path / "dqn.pt")
    PpoAgent(OBS, gym.spaces.Discrete(4), CONFIG).save(tmp_path / "four.pt")
    with pytest.raises(CheckpointError, match="^" + re.escape(
            f"checkpoint {tmp_path / 'four.pt'} does not fit this agent (action_dim: checkpoint 4, agent 3)") + "$"):
        agent.load(tmp_path / "four.pt")
    data = torch.load(tmp_path / "four.pt", weights_only=True)
    del data["shapes"]
    torch.save(data, tmp_path / "shapeless.pt")
    with pytest.raises(CheckpointError, match="^" + re.escape(
            f"checkpoint {tmp_path / 'shapeless.pt'} does not fit this agent (obs_dim: checkpoint None, agent 3; "
            "action_dim: checkpoint None, agent 3; continuous: checkpoint None, agent False; hidden: checkpoint "
            "None, agent [8])") + "$"):
        agent.load(tmp_path / "shapeless.pt")
    agent.save(tmp_path / "ppo.pt")
    for part in ("counters", "last_update", "sample_rng", "shuffle_rng", "segments", "pending", "net", "optimizer"):
        data = torch.load(tmp_path / "ppo.pt", weights_only=True)
        del data[part]
        torch.save(data, tmp_path / "part.pt")
        with pytest.raises(CheckpointError, match="^" + re.escape(
                f"checkpoint {tmp_path / 'part.pt'} is corrupt or incomplete: '{part}'") + "$"):
            PpoAgent(OBS, ACTIONS, CONFIG).load(tmp_path / "part.pt")
