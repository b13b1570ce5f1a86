"""Export, in one process: a missing onnx or onnxruntime package (the import blocked in ``sys.modules``), the
checkpoint ``export_checkpoint`` picks with ``which``, and how many observations its check draws (``verify``)."""

import math
import sys

import numpy as np
import pytest
import torch

from exported import BOX3, make_policy
from test_algorithms_mutants import ACTIONS, BATCH, OBS

from ecs_rl import TrainingRun, TrainingSession
from ecs_rl.algorithms import DqnAgent, DqnConfig, PpoAgent, PpoConfig
from ecs_rl.algorithms.export import ExportError, check_same_actions, check_target, export_checkpoint, export_policy
from ecs_rl.inference import PolicyFileError, load_policy


def without(monkeypatch, package):
    """``import package`` raises ModuleNotFoundError until the test ends, as where it is not installed."""
    monkeypatch.setitem(sys.modules, package, None)


# -- check_target / check_same_actions without the onnx extra ---------------------------------------------------


def test_without_the_onnx_package_onnx_targets_are_refused_naming_the_extra_and_npz_ones_are_not(tmp_path,
                                                                                                   monkeypatch):
    without(monkeypatch, "onnx")
    assert check_target(tmp_path / "p.npz") == "npz"  # numpy needs no extra
    for name in ("p.onnx", "P.ONNX"):
        with pytest.raises(ExportError) as err:
            check_target(tmp_path / name)
        assert str(err.value) == f"{tmp_path / name}: writing .onnx needs the onnx package: pip install 'ecs-rl[onnx]'"
    policy = make_policy("dqn", seed=2)
    with pytest.raises(ExportError, match=r"p\.onnx: writing \.onnx needs the onnx package"):
        export_policy(policy, tmp_path / "p.onnx")
    assert export_policy(policy, tmp_path / "p.npz", verify=20) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"]  # no .onnx file, not even a partial one


def test_an_onnx_file_written_without_onnxruntime_is_reported_unchecked(tmp_path, monkeypatch):
    without(monkeypatch, "onnxruntime")
    policy, path = make_policy("ppo-discrete", seed=4), tmp_path / "p.onnx"
    assert export_policy(policy, path) is False  # written and checked by onnx.checker, not loaded back
    assert check_same_actions(policy, path, 10) is False
    assert path.stat().st_size > 0


# -- export_checkpoint -------------------------------------------------------------------------------------------


def test_export_checkpoint_exports_the_checkpoint_named_by_which(tmp_path):
    agent = DqnAgent(OBS, ACTIONS, DqnConfig(hidden=(8,), seed=5))
    session = TrainingSession(agent).with_run(TrainingRun.create("exp", root=tmp_path))
    assert session.maybe_save_best(1.0)
    best = agent.to_policy().act_batch(BATCH)
    with torch.no_grad():  # latest.pt: the same network with its outputs negated (argmin for argmax)
        for p in agent.q_net[-1].parameters():
            p.neg_()
    session.save_checkpoint()
    session.close()
    latest = agent.to_policy().act_batch(BATCH)
    assert (best != latest).any()
    for which, want in [("latest", latest), ("best", best), (None, best)]:
        out = tmp_path / f"{which}.npz"
        policy = export_checkpoint(tmp_path / "exp", out, which=which, verify=50)
        assert policy.source.name == f"{which or 'best'}.pt"
        assert np.array_equal(policy.act_batch(BATCH), want) and np.array_equal(load_policy(out).act_batch(BATCH), want)


@pytest.fixture
def diverged_run(tmp_path):
    """A run whose latest.pt holds a Box policy whose mean actions are NaN (a training run that diverged)."""
    agent = PpoAgent(OBS, BOX3, PpoConfig(hidden=(8,), seed=1))
    with torch.no_grad():
        agent.net.actor[-1].bias.fill_(math.nan)
    session = TrainingSession(agent).with_run(TrainingRun.create("diverged", root=tmp_path))
    session.save_checkpoint()
    session.close()
    return tmp_path / "diverged"


def test_export_checkpoint_checks_on_verify_observations_and_verify_0_skips_the_check(diverged_run, tmp_path):
    """The .onnx file acts as the network does, NaN actions and all; NaN is not close to NaN, so the check
    refuses it, naming how many observations it drew. A .npz file is refused by the loader the check uses."""
    skipped = tmp_path / "skipped.onnx"
    policy = export_checkpoint(diverged_run, skipped, which="latest", verify=0)  # not loaded back: no error
    assert skipped.stat().st_size > 0 and np.isnan(policy.act_batch(BATCH)).all()
    for verify in (7, 1_000):
        with pytest.raises(ExportError, match=rf"checked\.onnx: the exported policy acts differently from the "
                                              rf"checkpoint's network \(on {verify} random observations\)"):
            export_checkpoint(diverged_run, tmp_path / "checked.onnx", which="latest", verify=verify)
    with pytest.raises(ExportError, match=r"\(on 1000 random observations\); the file was written"):
        export_checkpoint(diverged_run, tmp_path / "default.onnx", which="latest")  # the default: 1 000
    assert (tmp_path / "default.onnx").is_file()
    export_checkpoint(diverged_run, tmp_path / "skipped.npz", which="latest", verify=0)
    with pytest.raises(PolicyFileError, match=r"checked\.npz: array 'layer1\.bias' holds non-finite values"):
        export_checkpoint(diverged_run, tmp_path / "checked.npz", which="latest", verify=3)
    assert (tmp_path / "skipped.npz").is_file() and (tmp_path / "checked.npz").is_file()
