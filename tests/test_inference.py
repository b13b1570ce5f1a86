"""ecs_rl.inference (the numpy side): bad files refused, torch-free loading and acting, the inference plugin."""

import json
import re
import subprocess
import sys

import esper
import gymnasium as gym
import numpy as np
import onnx
import pytest

from exported import make_policy, observations

from ecs_rl.algorithms.export import export_policy
from ecs_rl.ecs import install, run_episodes, step_world
from ecs_rl.inference import PolicyFileError, load_policy
from ecs_rl.worlds import cartpole, maze


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A DQN policy's .npz file: its arrays and header, to damage one at a time."""
    path = tmp_path_factory.mktemp("good") / "dqn.npz"
    export_policy(make_policy("dqn"), path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return path, arrays, json.loads(arrays["header"].tobytes())


def header_array(header):
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def damaged(arrays, header, **changes):
    out = dict(arrays, header=header_array(header))
    for key, value in changes.items():
        name = key.replace("__", ".")
        if value is None:
            del out[name]
        else:
            out[name] = value
    return out


def header_with(header, path, value):
    header = json.loads(json.dumps(header))
    *parents, last = path.split("/")
    node = header
    for p in parents:
        node = node[p]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return header


BAD_NPZ = {
    "pickled objects": (lambda a, h: damaged(a, h, extra=np.array([{"x": 1}], dtype=object)),
                        "holds pickled objects (object arrays); refused"),
    "no header": (lambda a, h: {k: v for k, v in a.items() if k != "header"}, "has no 'header' array"),
    "header not json": (lambda a, h: dict(a, header=np.frombuffer(b"{nope", np.uint8)), "header is not UTF-8 JSON"),
    "header as floats": (lambda a, h: dict(a, header=np.zeros(3)), "header must be a 1-d uint8 array"),
    "another format": (lambda a, h: damaged(a, header_with(h, "format", "something-else")), "not an ecs-rl policy"),
    "wrong version": (lambda a, h: damaged(a, header_with(h, "format_version", 2)),
                      "format version 2; this ecs-rl reads version 1"),
    "missing array": (lambda a, h: damaged(a, h, layer1__bias=None), "has no array 'layer1.bias'"),
    "transposed weight": (lambda a, h: damaged(a, h, layer0__weight=a["layer0.weight"].T.copy()),
                          "array 'layer0.weight' has shape (6, 32), its header's architecture [6, 32, 16, 5] needs (32, 6)"),
    "float64 weight": (lambda a, h: damaged(a, h, layer2__bias=a["layer2.bias"].astype(np.float64)),
                       "array 'layer2.bias' has dtype float64, not float32"),
    "nan weight": (lambda a, h: damaged(a, h, layer2__bias=np.full(5, np.nan, np.float32)), "non-finite values"),
    "extra array": (lambda a, h: damaged(a, h, layer3__weight=np.zeros((2, 5), np.float32)),
                    "holds arrays its header does not describe: layer3.weight"),
    "obs space does not fit": (lambda a, h: damaged(a, header_with(h, "observation_space/shape", [7])),
                               "the network reads 6 numbers but observation_space has shape (7,)"),
    "action space does not fit": (lambda a, h: damaged(a, header_with(h, "action_space/n", 4)),
                                  "the network writes 5 values but action_space is Discrete(4)"),
    "no action space": (lambda a, h: damaged(a, header_with(h, "action_space", None)), "header has no 'action_space'"),
    "algorithm not a name": (lambda a, h: damaged(a, header_with(h, "algorithm", ["dqn"])),
                             "unknown algorithm ['dqn']"),
    "output not a name": (lambda a, h: damaged(a, header_with(h, "output", {"q": 1})),
                          "a dqn policy cannot output {'q': 1}"),
    "boolean n": (lambda a, h: damaged(a, header_with(h, "action_space/n", True)),
                  "action_space discrete needs an integer n >= 1 and start"),
    "boolean in observation shape": (lambda a, h: damaged(a, header_with(h, "observation_space/shape", [True, 6])),
                                     "observation_space must be a float32 box with a shape"),
    "box without dtype": (lambda a, h: damaged(a, header_with(header_with(header_with(
        h, "algorithm", "ppo"), "output", "mean"), "action_space", {"kind": "box", "shape": [5], "low": [0] * 5,
                                                                     "high": [1] * 5})),
        "action_space box needs a float dtype, got None"),
    "unknown activation": (lambda a, h: damaged(a, header_with(h, "architecture/activation", "gelu")),
                           "architecture must be an mlp with activation relu or tanh"),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_each_bad_npz_is_refused_in_one_line_naming_the_file(good, tmp_path, case):
    _, arrays, header = good
    make, message = BAD_NPZ[case]
    path = tmp_path / f"{case.replace(' ', '_')}.npz"
    np.savez(path, **make(arrays, header))
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    text = str(info.value)
    assert str(path) in text and message in text and "\n" not in text, text


def test_zip_members_that_are_not_arrays_are_refused_naming_the_file(good, tmp_path):
    """numpy hands back a member without the .npy suffix as raw bytes: refused as a bad file, not a crash."""
    import io
    import zipfile

    _, arrays, _ = good
    for name, members in (("raw_header", {"header": b'{"format": "ecs-rl-policy"}'}),
                          ("raw_layer", {"layer0.weight": b"\x00" * 8})):
        path = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(path, "w") as archive:
            for key, value in arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, value)
                archive.writestr(f"{key}.npy", buffer.getvalue())
            for key, value in members.items():
                archive.writestr(key, value)
        with pytest.raises(PolicyFileError) as info:
            load_policy(path)
        text = str(info.value)
        assert str(path) in text and f"member {next(iter(members))!r} is not a .npy array" in text, text


def test_the_good_file_loads(good):
    assert load_policy(good[0]).act(np.zeros(6, np.float32)) in range(1, 6)


def test_files_that_are_not_policies_are_refused_naming_the_file(tmp_path):
    cases = {
        tmp_path / "missing.npz": "does not exist",
        tmp_path / "garbage.npz": "is not a readable .npz file",
        tmp_path / "garbage.onnx": "is not a readable ONNX model",
        tmp_path / "plain.onnx": "has no 'ecs_rl' metadata: not an ecs-rl policy file",
        tmp_path / "weights.pt": "unknown extension '.pt'; exported policies are .npz (numpy) or .onnx",
    }
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    (tmp_path / "garbage.onnx").write_bytes(b"\x00\x01 not a protobuf")
    node = onnx.helper.make_node("Identity", ["obs"], ["out"])
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("obs", onnx.TensorProto.FLOAT, [1, 6])],
                                   [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1, 6])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), tmp_path / "plain.onnx")
    for path, message in cases.items():
        with pytest.raises(PolicyFileError) as info:
            load_policy(path)
        text = str(info.value)
        assert str(path) in text and message in text and "\n" not in text, text


def test_an_onnx_graph_that_does_not_fit_its_header_is_refused(tmp_path):
    export_policy(make_policy("dqn"), tmp_path / "p.onnx")
    model = onnx.load(tmp_path / "p.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    header = json.loads(props["ecs_rl"])
    header["architecture"]["sizes"][0] = header["observation_space"]["shape"][0] = 7
    onnx.helper.set_model_props(model, {"ecs_rl": json.dumps(header)})
    onnx.save(model, tmp_path / "lying.onnx")
    with pytest.raises(PolicyFileError, match=r"lying\.onnx: the graph's input must be one float tensor \[batch, 7\]"):
        load_policy(tmp_path / "lying.onnx")


def test_observations_of_the_wrong_size_and_box_masks_are_refused(tmp_path):
    export_policy(make_policy("ppo-box"), tmp_path / "box.npz")
    policy = load_policy(tmp_path / "box.npz")
    with pytest.raises(ValueError, match=r"observations of shape \(3, 5\) do not fit policy box.npz"):
        policy.act_batch(np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match="action masks need a Discrete action space"):
        policy.act_batch(np.zeros((1, 6), np.float32), masks=np.ones((1, 3), bool))


# -- without torch ------------------------------------------------------------------------------------------

TORCH_FREE = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ModuleNotFoundError("No module named 'torch' (blocked)", name=name)
sys.meta_path.insert(0, NoTorch())
try:
    import torch
    raise SystemExit('torch imported')
except ModuleNotFoundError:
    pass

import json
import numpy as np
import esper
from ecs_rl.inference import load_policy
from ecs_rl.ecs import install, run_episodes
from ecs_rl.worlds import cartpole

policy = load_policy(sys.argv[1])
obs = np.load(sys.argv[2])
actions = policy.act_batch(obs).tolist()
single = policy.act(obs[0])
results = run_episodes(cartpole.factory(), {"cartpole": sys.argv[1]}, 3, seed=11, reset=cartpole.reset)
esper.switch_world("shipped")
cartpole.build(2, seed=5)
plugin = install({"cartpole": policy}, cartpole.reset, learning=False)
for _ in range(300):
    esper.process(1 / 50)
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pygame', 'onnxruntime')
                or m.startswith('ecs_rl.algorithms'))
print(json.dumps({"actions": actions, "single": single, "loaded": loaded,
                  "returns": [r.total_reward for r in results["cartpole"].records],
                  "shipped_episodes": plugin.policies["cartpole"].stats.episodes}))
"""


def test_the_numpy_policy_and_the_inference_plugin_run_with_torch_blocked(tmp_path):
    policy = make_policy("dqn", obs_space=cartpole.observation_space, actions=cartpole.action_space, seed=2)
    export_policy(policy, tmp_path / "cartpole.npz")
    obs = observations(2_000, dim=4, seed=3)
    np.save(tmp_path / "obs.npy", obs)
    proc = subprocess.run([sys.executable, "-c", TORCH_FREE, str(tmp_path / "cartpole.npz"), str(tmp_path / "obs.npy")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["loaded"] == []  # no torch, no ecs_rl.algorithms, no pygame, no onnxruntime
    assert out["actions"] == policy.act_batch(obs).tolist() and out["single"] == out["actions"][0]
    # the same greedy episodes as the torch policy plays them in this (torch) process
    reference = run_episodes(cartpole.factory(), {"cartpole": policy}, 3, seed=11, reset=cartpole.reset)
    assert out["returns"] == [r.total_reward for r in reference["cartpole"].records]
    assert out["shipped_episodes"] >= 1


# -- the inference plugin -----------------------------------------------------------------------------------


def test_install_learning_false_plays_an_exported_policy_with_masks(world, tmp_path):
    """Maze walkers with an exported (untrained) DQN network: through the plugin, masked ones never hit a wall
    and choose what the torch policy chooses under the same masks; unmasked, the same network does hit walls."""
    policy = make_policy("dqn", obs_space=maze.observation_space, actions=maze.action_space, seed=4)
    export_policy(policy, tmp_path / "maze.npz")
    results = {}
    for name, acting in (("numpy", str(tmp_path / "maze.npz")), ("torch", policy), ("unmasked", str(tmp_path / "maze.npz"))):
        esper.switch_world(f"{world}-{name}")
        maze.build(6, seed=0, masked=name != "unmasked")
        plugin = install({"maze": acting}, maze.reset, learning=False)
        assert not plugin.learning and plugin.policies["maze"].session is None
        walkers = [w for _, w in esper.get_component(maze.MazeWalker)]
        bumps = []
        plugin.on_episode_end(lambda e: bumps.append(e.extras.get("wall_bumps", 0)))
        step_world(150, plugin=plugin)
        results[name] = (sum(bumps) + sum(w.bumps for w in walkers), [w.pos for w in walkers])
        esper.switch_world(world)
        esper.delete_world(f"{world}-{name}")
    assert results["numpy"] == results["torch"]
    assert results["numpy"][0] == 0
    assert results["unmasked"][0] > 50


def test_install_refuses_a_bad_policy_file_naming_the_policy_and_file(world, tmp_path):
    cartpole.build(1, seed=0)
    with pytest.raises(PolicyFileError, match=r"policy 'cartpole': policy file .*gone\.npz does not exist"):
        install({"cartpole": str(tmp_path / "gone.npz")}, cartpole.reset, learning=False)


def test_importing_ecs_rl_inference_imports_numpy_but_neither_torch_esper_pygame_nor_onnxruntime():
    code = ("import sys, ecs_rl.inference; print(' '.join(sorted({m.split('.')[0] for m in sys.modules} | "
            "{m for m in sys.modules if m.startswith('ecs_rl.')})))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert "numpy" in loaded and "ecs_rl.inference" in loaded
    assert not loaded & {"torch", "esper", "pygame", "onnxruntime", "onnx", "ecs_rl.algorithms", "ecs_rl.ecs"}


def test_the_shipped_game_demo_plays_an_exported_policy_in_a_window_without_torch(tmp_path):
    from pathlib import Path

    demo = Path(__file__).resolve().parents[1] / "demos" / "shipped_game.py"
    export_policy(make_policy("dqn", obs_space=cartpole.observation_space, actions=cartpole.action_space, seed=2),
                  tmp_path / "cartpole.npz")
    blocker = TORCH_FREE.split("\nimport json")[0]  # the NoTorch finder, and the check that it blocks
    code = (blocker + "\nimport runpy\nsys.argv = [sys.argv[1], *sys.argv[2:]]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(demo), str(tmp_path / "cartpole.npz"), "--carts", "2",
                           "--max-frames", "90", "--screenshot", str(tmp_path / "shot.png")],
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})
    assert proc.returncode == 0, proc.stderr
    assert "heavy modules imported: none" in proc.stdout and "episodes ended" in proc.stdout
    assert (tmp_path / "shot.png").stat().st_size > 1_000
    bad = subprocess.run([sys.executable, str(demo), str(tmp_path / "missing.npz")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.npz does not exist" in bad.stderr


def test_observations_whose_rows_do_not_fit_the_policy_are_refused_not_regrouped(tmp_path):
    """A batch whose rows hold another number of values (a file from another game) is an error, even when its
    total size happens to be a multiple of the policy's observation size: never actions for regrouped rows."""
    export_policy(make_policy("dqn"), tmp_path / "six.npz")  # reads 6 numbers per observation
    policy = load_policy(tmp_path / "six.npz")
    for batch in (np.zeros((3, 4), np.float32), np.zeros((4, 3), np.float32), np.zeros((2, 12), np.float32),
                  np.zeros(6, np.float32)):
        with pytest.raises(ValueError, match=re.escape(f"observations of shape {batch.shape} do not fit policy six.npz")):
            policy.act_batch(batch)
    with pytest.raises(ValueError, match=r"observation of shape \(12,\) does not fit policy six\.npz"):
        policy.act(np.zeros(12, np.float32))
    assert policy.act_batch(np.zeros((2, 2, 3), np.float32)).shape == (2,)  # rows of 6 numbers in any shape


def test_install_names_the_entity_whose_observation_does_not_fit_an_exported_policy(world, tmp_path):
    """Another game's file: 2 cart-poles (4 numbers each) make 8 numbers, a whole number of 2-number rows."""
    export_policy(make_policy("dqn", obs_space=gym.spaces.Box(-1, 1, (2,), np.float32),
                              actions=cartpole.action_space), tmp_path / "other.npz")
    cartpole.build(2, seed=0)
    plugin = install({"cartpole": str(tmp_path / "other.npz")}, cartpole.reset, learning=False)
    with pytest.raises(ValueError, match=r"entity \d+: Observation has shape \(4,\) \(4 numbers\), policy "
                                         r"'cartpole' reads 2"):
        step_world(3, plugin=plugin)
