"""Export (the torch side): the .npz and .onnx files act as the torch policy does, and ``ecs-rl export``."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from exported import KINDS, make_policy, observations, random_masks

from ecs_rl import TrainingRun
from ecs_rl.algorithms import GreedyPolicy
from ecs_rl.algorithms.export import ExportError, export_policy
from ecs_rl.cli import main
from ecs_rl.inference import NumpyPolicy, OnnxPolicy, load_policy

N_OBS = 5_000


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ext", ["npz", "onnx"])
def test_exported_policies_act_as_the_torch_policy(tmp_path, kind, ext):
    policy = make_policy(kind, seed=3)
    export_policy(policy, tmp_path / f"p.{ext}", verify=0)  # compared here, not by the exporter's own check
    loaded = load_policy(tmp_path / f"p.{ext}")
    assert isinstance(loaded, NumpyPolicy if ext == "npz" else OnnxPolicy)
    obs = observations(N_OBS, seed=1)
    ours, torch_actions = loaded.act_batch(obs), policy.act_batch(obs)
    assert ours.dtype == torch_actions.dtype and ours.shape == torch_actions.shape
    if kind == "ppo-box":
        np.testing.assert_allclose(ours, torch_actions, rtol=0, atol=1e-5)
        assert (ours == policy.action_space.low).any() and (ours == policy.action_space.high).any()  # clipped
        assert np.ptp(ours, axis=0).min() > 0.5  # the actions vary: not a constant that happens to agree
    else:
        assert (ours == torch_actions).all()
        assert len(np.unique(ours)) >= 3  # the choices vary: not one constant action that happens to agree
    one = loaded.act(obs[0])
    if kind == "ppo-box":
        np.testing.assert_allclose(one, torch_actions[0], rtol=0, atol=1e-5)
    else:
        assert one == int(torch_actions[0]) and type(one) is int


@pytest.mark.parametrize("kind", ["dqn", "ppo-discrete"])
@pytest.mark.parametrize("ext", ["npz", "onnx"])
def test_exported_policies_keep_masking_as_torch_does(tmp_path, kind, ext):
    policy = make_policy(kind, seed=5)
    export_policy(policy, tmp_path / f"p.{ext}", verify=0)
    loaded = load_policy(tmp_path / f"p.{ext}")
    n = policy.action_space.n
    obs, masks = observations(N_OBS, seed=2), random_masks(N_OBS, n, seed=2)
    ours = loaded.act_batch(obs, masks=masks)
    assert (ours == policy.act_batch(obs, masks=masks)).all()
    assert masks[np.arange(N_OBS), ours - policy.action_space.start].all()  # a masked action is never chosen
    assert (ours != loaded.act_batch(obs)).mean() > 0.2  # the masks changed many choices
    single = loaded.act(obs[7], mask=masks[7])
    assert single == ours[7]
    none_legal = masks.copy()
    none_legal[3] = False
    with pytest.raises(ValueError, match="masks row 3 allows no action"):
        loaded.act_batch(obs, masks=none_legal)
    with pytest.raises(ValueError, match="masks must be a bool array of shape"):
        loaded.act_batch(obs, masks=masks.astype(int))


def test_the_onnx_graph_is_checked_documents_its_spaces_and_clips_box_actions(tmp_path):
    policy = make_policy("ppo-box", seed=1)
    export_policy(policy, tmp_path / "box.onnx")
    model = onnx.load(tmp_path / "box.onnx")
    onnx.checker.check_model(model, full_check=True)
    header = json.loads({p.key: p.value for p in model.metadata_props}["ecs_rl"])
    assert header["output"] == "mean" and header["algorithm"] == "ppo"
    assert header["action_space"] == {"kind": "box", "shape": [3], "dtype": "float32", "low": [-1.0, -2.0, 0.0],
                                      "high": [1.0, 2.0, "inf"]}
    assert header["observation_space"]["shape"] == [6]
    assert header["architecture"] == {"kind": "mlp", "sizes": [6, 24, 24, 3], "activation": "tanh"}
    # the raw graph, without ecs-rl's wrapper: any onnxruntime user gets the clipped mean action
    session = ort.InferenceSession(str(tmp_path / "box.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["obs"] and [o.name for o in session.get_outputs()] == ["mean"]
    raw = session.run(None, {"obs": observations(2_000, seed=4) * 10})[0]
    assert raw.shape == (2_000, 3)
    assert (raw[:, :2] >= [-1, -2]).all() and (raw[:, :2] <= [1, 2]).all() and (raw[:, 2] >= 0).all()
    assert raw[:, 2].max() > 2.0  # no upper bound on the last coordinate: not clipped there
    dqn = make_policy("dqn", seed=1)
    export_policy(dqn, tmp_path / "dqn.onnx")
    q = ort.InferenceSession(str(tmp_path / "dqn.onnx"), providers=["CPUExecutionProvider"])
    obs = observations(100, seed=5)
    with torch.inference_mode():
        np.testing.assert_allclose(q.run(["q_values"], {"obs": obs})[0], dqn.network(torch.from_numpy(obs)).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_export_refuses_unknown_extensions_and_networks_it_cannot_describe(tmp_path):
    policy = make_policy("dqn")
    with pytest.raises(ExportError, match=r"p\.pt: unknown extension '\.pt'; export to \.npz"):
        export_policy(policy, tmp_path / "p.pt")
    odd = GreedyPolicy(torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 5)), 6,
                       policy.action_space)
    with pytest.raises(ExportError, match="only MLPs of Linear layers with one activation"):
        export_policy(odd, tmp_path / "odd.npz")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_npz_file_is_plain_arrays_with_a_json_header(tmp_path):
    export_policy(make_policy("ppo-discrete"), tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["header"] + [f"layer{i}.{p}" for i in range(3) for p in ("bias", "weight")]
        header = json.loads(data["header"].tobytes().decode())
        assert data["layer0.weight"].shape == (24, 6) and data["layer2.bias"].shape == (4,)
    assert header["format"] == "ecs-rl-policy" and header["format_version"] == 1
    assert header["action_space"] == {"kind": "discrete", "n": 4, "start": 0} and header["output"] == "logits"
    assert header["ecs_rl_version"]


# -- ecs-rl export ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "cartpole", "--steps", "1500", "--eval-freq", "500", "--root", str(root)]) == 0
    (run,) = root.glob("cartpole/dqn/*")
    assert (run / "checkpoints" / "best.pt").is_file()
    return run


def test_cli_export_writes_files_that_act_as_the_checkpoint(trained_run, tmp_path, capsys):
    obs = observations(3_000, dim=4, seed=6) * 0.2  # cart-pole-sized observations
    best = GreedyPolicy.load(trained_run / "checkpoints" / "best.pt")
    for ext in ("npz", "onnx"):
        out = tmp_path / f"cartpole.{ext}"
        assert main(["export", str(trained_run.parent), "-o", str(out)]) == 0  # a version directory: its newest run
        said = capsys.readouterr().out
        assert "best.pt" in said and f"{out.stat().st_size:,} bytes" in said and "same actions" in said
        assert (load_policy(out).act_batch(obs) == best.act_batch(obs)).all()
        assert out.stat().st_size < (trained_run / "checkpoints" / "best.pt").stat().st_size
    latest = GreedyPolicy.load(trained_run / "checkpoints" / "latest.pt")
    step = sorted((trained_run / "checkpoints").glob("step_*.pt"))[0]
    for which, reference in (("latest", latest), (step.stem, GreedyPolicy.load(step)), (str(step), GreedyPolicy.load(step))):
        out = tmp_path / "which.npz"
        assert main(["export", str(trained_run), "--checkpoint", which, "-o", str(out)]) == 0
        assert (load_policy(out).act_batch(obs) == reference.act_batch(obs)).all()
    assert main(["export", str(step), "-o", str(tmp_path / "file.npz")]) == 0  # a checkpoint file itself
    assert (load_policy(tmp_path / "file.npz").act_batch(obs) == GreedyPolicy.load(step).act_batch(obs)).all()


def test_cli_export_mistakes_are_one_line_errors(trained_run, tmp_path, capsys):
    empty = TrainingRun.create("empty", "dqn", root=tmp_path / "runs")
    cases = [
        ([str(tmp_path / "nope"), "-o", str(tmp_path / "a.npz")], f"{tmp_path / 'nope'} does not exist"),
        ([str(empty.path), "-o", str(tmp_path / "a.npz")], "has no best.pt or latest.pt checkpoint yet"),
        ([str(trained_run), "-o", str(tmp_path / "a.pt")], "unknown extension '.pt'"),
        ([str(trained_run), "-o", str(tmp_path / "missing" / "a.npz")], "directory"),
        ([str(trained_run), "--checkpoint", "step_1", "-o", str(tmp_path / "a.npz")],
         "has no checkpoint 'step_1' and no such file exists; its checkpoints: best, latest, step_"),
    ]
    for argv, message in cases:
        assert main(["export", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ecs-rl export: error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "a.npz").exists()


BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def test_cli_export_to_onnx_without_the_extra_is_a_one_line_error(trained_run, tmp_path):
    code = BLOCK.format(blocked={"onnx"}) + (
        f"from ecs_rl.cli import main; sys.exit(main(['export', {str(trained_run)!r}, '-o', "
        f"{str(tmp_path / 'p.onnx')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "writing .onnx needs the onnx package: pip install 'ecs-rl[onnx]'" in proc.stderr
    assert not (tmp_path / "p.onnx").exists()


def test_cli_export_of_a_team_game_name_asks_which_policy(trained_run, tmp_path, capsys):
    """A name directory of a game whose policies were trained together (one run each, partners in config.json)
    holds several policies and a file holds one: the user is asked to name it, never given one at random."""
    import os
    import shutil

    runs = {p: TrainingRun.create("teams", p, root=tmp_path / "runs") for p in ("predator", "prey")}
    for p, run in runs.items():
        (other,) = set(runs) - {p}
        run.write_config({"game": "hunt", "algo": "dqn", "policy": p,
                          "partners": {other: os.path.relpath(runs[other].path, run.path)}})
        shutil.copy(trained_run / "checkpoints" / "best.pt", run.path / "checkpoints" / "best.pt")
    out = tmp_path / "team.npz"
    assert main(["export", str(tmp_path / "runs" / "teams"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds the runs of 2 policies trained together (predator, prey)" in err, err
    assert f"ecs-rl export {tmp_path / 'runs' / 'teams' / 'predator'} -o predator.npz" in err
    assert not out.exists()
    for p in runs:  # each policy's own directory exports
        assert main(["export", str(tmp_path / "runs" / "teams" / p), "-o", str(tmp_path / f"{p}.npz")]) == 0
    assert main(["export", str(trained_run.parent.parent), "-o", str(out)]) == 0  # one policy's name directory
