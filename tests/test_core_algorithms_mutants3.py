"""Behaviours that mutation testing found unchecked (third sample): an acting copy's discount, PPO's
critic on unbatched and many-dimensional batches, an atomic copy that keeps its temporary beside the
target, a resumed session's best score when metadata.json lacks it."""

import json
import tempfile

import numpy as np
import pytest
import torch

from ecs_rl.algorithms import DqnConfig, PpoAgent, PpoConfig
from ecs_rl.algorithms.acting import ActingCopy
from ecs_rl.core.files import atomic_copy
from ecs_rl.ecs.policies import PolicyEntry

from test_session_mutants import ACTIONS, OBS, resumed, trained_run


@pytest.mark.parametrize("algorithm, config", [("dqn", DqnConfig(gamma=0.5)), ("ppo", {"gamma": 0.9})])
def test_an_acting_copy_discounts_decision_periods_with_its_configs_gamma(algorithm, config):
    acting = ActingCopy(algorithm, OBS, ACTIONS, config, seed=0)
    gamma = 0.5 if algorithm == "dqn" else 0.9
    assert acting.gamma == gamma
    assert PolicyEntry("acting", acting).gamma == gamma  # what the plugin discounts a decision period's rewards by


def test_ppo_critic_values_one_observation_and_batches_of_any_rank():
    net = PpoAgent(OBS, ACTIONS, PpoConfig(seed=3)).net
    obs = torch.linspace(-1.0, 1.0, 12).reshape(2, 3, 2)
    with torch.no_grad():
        rows = net.value(obs.reshape(6, 2))
        assert rows.shape == (6,)
        assert net.value(obs).shape == (2, 3)
        torch.testing.assert_close(net.value(obs), rows.reshape(2, 3))
        single = net.value(obs[1, 2])
        assert single.shape == ()
        torch.testing.assert_close(single, rows[5])


def test_atomic_copy_works_whatever_the_system_temporary_directory_is(tmp_path, monkeypatch):
    # the temporary name is made beside the target (the rename must stay on one file system), never in TMPDIR
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-directory"))
    src, dst = tmp_path / "a.pt", tmp_path / "runs" / "best.pt"
    dst.parent.mkdir()
    src.write_bytes(b"weights")
    atomic_copy(src, dst)
    assert dst.read_bytes() == b"weights"
    assert dst.stat().st_ino == src.stat().st_ino  # a hard link where the file system allows
    assert [p.name for p in dst.parent.iterdir()] == ["best.pt"]


def test_a_resume_keeps_the_checkpoints_best_score_when_metadata_json_lacks_one(tmp_path):
    run = trained_run(tmp_path, best=12.5)
    meta_path = run.path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["best_eval_reward"]  # written before the best score reached it
    meta_path.write_text(json.dumps(meta))
    session = resumed(run)
    assert session.best_eval_reward == 12.5
    assert not session.maybe_save_best(3.0) and session.maybe_save_best(13.0)
    session.close()
