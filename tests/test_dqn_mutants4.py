"""DQN checkpoints that mutation testing found unchecked: a PPO file refused by name, errors naming the
file, a file without its shapes or its networks, and a masked replay buffer that training resumes from."""

import pytest
import torch

from ecs_rl.algorithms import CheckpointError, DqnAgent, DqnConfig, PpoAgent

from test_algorithms_mutants import ACTIONS, OBS, masked_rollout


def saved_dqn(path, **config):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=2, **config))
    agent.save(path)
    return agent


def rewrite(path, **changes):
    """The checkpoint at ``path`` with its top-level entries changed (None: removed), written back."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    torch.save(data, path)


def test_a_ppo_checkpoint_is_refused_by_a_dqn_agent_naming_both_algorithms(tmp_path):
    path = tmp_path / "ppo.pt"
    PpoAgent(OBS, ACTIONS).save(path)
    with pytest.raises(CheckpointError, match="holds a 'ppo' agent, not a 'dqn' agent"):
        DqnAgent(OBS, ACTIONS).load(path)


def test_a_dqn_file_relabelled_as_another_algorithm_is_refused_though_its_contents_fit(tmp_path):
    path = tmp_path / "relabelled.pt"
    saved_dqn(path)
    rewrite(path, algorithm="ppo")
    with pytest.raises(CheckpointError, match="holds a 'ppo' agent, not a 'dqn' agent"):
        DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,))).load(path)


def test_a_checkpoint_of_other_shapes_is_refused_naming_its_file(tmp_path):
    path = tmp_path / "narrow.pt"
    saved_dqn(path)
    with pytest.raises(CheckpointError) as refused:
        DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(16,))).load(path)
    assert str(refused.value) == f"checkpoint {path} does not fit this agent (hidden: checkpoint [8], agent [16])"


def test_a_checkpoint_without_its_shapes_is_refused_naming_each_missing_one(tmp_path):
    path = tmp_path / "no-shapes.pt"
    saved_dqn(path)
    rewrite(path, shapes=None)
    with pytest.raises(CheckpointError) as refused:
        DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,))).load(path)
    assert str(refused.value) == (f"checkpoint {path} does not fit this agent (obs_dim: checkpoint None, agent 3; "
                                  "n_actions: checkpoint None, agent 3; hidden: checkpoint None, agent [8])")


@pytest.mark.parametrize("missing", ["q_net", "counters", "replay"])
def test_a_checkpoint_missing_a_part_is_refused_naming_the_file_and_the_part(tmp_path, missing):
    path = tmp_path / "incomplete.pt"
    saved_dqn(path)
    rewrite(path, **{missing: None})
    with pytest.raises(CheckpointError) as refused:
        DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,))).load(path)
    assert str(refused.value) == f"checkpoint {path} is corrupt or incomplete: '{missing}'"


def test_training_resumed_from_a_masked_replay_buffer_matches_never_stopping(tmp_path):
    def make():
        return DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=5, learning_starts=8, batch_size=4,
                                                 target_update_interval=4, save_replay=True))

    straight = make()
    masked_rollout(straight, 12)
    straight.save(tmp_path / "mid.pt")
    at_save = [p.detach().clone() for p in straight.q_net.parameters()]
    masked_rollout(straight, 10, start=12)
    assert not all(torch.equal(a, p) for a, p in zip(at_save, straight.q_net.parameters()))  # it trained on

    resumed = make()
    resumed.load(tmp_path / "mid.pt")
    masked_rollout(resumed, 10, start=12)
    for mine, theirs in zip(resumed.q_net.parameters(), straight.q_net.parameters()):
        assert torch.equal(mine, theirs)
