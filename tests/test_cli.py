import os
import subprocess
import sys
from pathlib import Path

import ecs_rl
from ecs_rl import TrainingRun
from ecs_rl.cli import main

ECS_RL = Path(sys.executable).with_name("ecs-rl")


def test_console_script_prints_version():
    out = subprocess.run([ECS_RL, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ecs-rl {ecs_rl.__version__}"


def test_runs_lists_each_run_with_its_progress(tmp_path, capsys):
    run = TrainingRun.create("cartpole", "v1", root=tmp_path)
    run.update_metadata(12_345, 67, best_eval_reward=480.25)
    broken = TrainingRun.create("broken", "v2", root=tmp_path)
    (broken.path / "metadata.json").write_text("{")
    assert main(["runs", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "version", "run", "steps", "episodes", "best", "eval", "last", "update"]
    row = next(line for line in out if line.startswith("cartpole"))
    assert run.run_id in row and "12,345" in row and "67" in row and "480.25" in row
    assert any(line.startswith("broken") and "unreadable" in line for line in out)


def test_runs_on_a_missing_root_is_a_one_line_error(tmp_path):
    proc = subprocess.run([ECS_RL, "runs", "--root", str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope" in proc.stderr and "Traceback" not in proc.stderr


def test_empty_root_says_so(tmp_path, capsys):
    assert main(["runs", "--root", str(tmp_path)]) == 0
    assert "no runs" in capsys.readouterr().out


# -- one-line errors for a user's mistake: exact message, exit 2, no traceback, nothing on disk changed ----

import hashlib
import shutil

import pytest


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.is_dir(), hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "",
                                       p.stat().st_mode) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("made")
    assert main(["train", "cartpole", "--steps", "300", "--eval-freq", "100000", "--root", str(root)]) == 0
    (run,) = root.glob("cartpole/dqn/*")
    return run


@pytest.fixture
def run_copy(small_run, tmp_path):
    copy = tmp_path / "runs" / "cartpole" / "dqn" / small_run.name
    shutil.copytree(small_run, copy)
    return copy


def expect_one_line_error(capsys, args, message, root):
    before = snapshot(root)
    try:
        assert main([str(a) for a in args]) == 2
    except SystemExit as exc:  # argparse's own errors exit from inside main
        assert exc.code == 2
    err = capsys.readouterr().err
    assert err == f"ecs-rl {args[0]}: error: {message}\n", err
    assert snapshot(root) == before


@pytest.mark.parametrize("extra, message", [
    (["foragers"], "the run has game 'cartpole', not 'foragers'; leave out game or start a new run"),
    (["--algo", "ppo"], "the run has algo 'dqn', not 'ppo'; leave out --algo or start a new run"),
    (["--envs", "3"], "the run has envs 1, not 3; leave out --envs or start a new run"),
    (["--seed", "7"], "the run has seed 0, not 7; leave out --seed or start a new run"),
])
def test_resume_that_contradicts_the_run_is_refused(run_copy, capsys, extra, message):
    expect_one_line_error(capsys, ["train", "--resume", run_copy, *extra], f"--resume {run_copy}: {message}", run_copy.parent)


def test_resume_of_a_truncated_or_empty_latest_checkpoint(run_copy, capsys):
    latest = run_copy / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    expect_one_line_error(capsys, ["train", "--resume", run_copy],
                   f"checkpoint {latest} is not a readable torch checkpoint (PytorchStreamReader failed reading "
                   "zip archive: failed finding central directory)", run_copy.parent)
    latest.write_bytes(b"")
    expect_one_line_error(capsys, ["train", "--resume", run_copy],
                   f"checkpoint {latest} is not a readable torch checkpoint (the file is empty)", run_copy.parent)


def test_resume_of_a_run_with_a_broken_config(run_copy, capsys):
    (run_copy / "config.json").write_text('{"game": "cartpole"')
    expect_one_line_error(capsys, ["train", "--resume", run_copy],
                   f"{run_copy / 'config.json'} is corrupt: not valid JSON (Expecting ',' delimiter: line 1 column 20 "
                   "(char 19))", run_copy.parent)
    (run_copy / "config.json").write_text('{"game": "cartpole", "algo": "dqn", "envs": 1, "seed": 0, "steps": 300, '
                                          '"agent": {"learning_rate": -1}}')
    expect_one_line_error(capsys, ["train", "--resume", run_copy],
                   f"{run_copy / 'config.json'}: bad agent settings (DqnConfig.learning_rate must be a finite number "
                   ">= 0, got -1)", run_copy.parent)


def test_resume_of_a_read_only_run(run_copy, capsys):
    if os.geteuid() == 0:  # root writes through permission bits: make the directory a read-only mount
        if subprocess.run(["mount", "--bind", run_copy, run_copy], capture_output=True).returncode != 0:
            pytest.skip("cannot make a read-only bind mount")
        subprocess.run(["mount", "-o", "remount,ro,bind", run_copy], check=True)
    else:
        run_copy.chmod(0o555)
    try:
        expect_one_line_error(capsys, ["train", "--resume", run_copy], f"run {run_copy} is read-only: cannot write in "
                       f"{run_copy}", run_copy.parent)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", run_copy], check=True)
        else:
            run_copy.chmod(0o755)


def test_bad_seed_root_and_plot_output(tmp_path, run_copy, capsys):
    expect_one_line_error(capsys, ["train", "cartpole", "--seed", "-1", "--root", tmp_path],
                   "argument --seed: must be >= 0, got -1", tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    expect_one_line_error(capsys, ["train", "cartpole", "--root", afile], f"--root {afile} is not a directory", tmp_path)
    expect_one_line_error(capsys, ["plot", run_copy, "-o", "/nonexistent/dir/x.png"],
                   "argument -o/--output: directory /nonexistent/dir does not exist", tmp_path)
    expect_one_line_error(capsys, ["train", "cartpole", "--checkpoint-seconds", "0", "--root", tmp_path],
                   "argument --checkpoint-seconds: must be a number > 0, got 0", tmp_path)

def test_output_files_that_cannot_be_written(tmp_path, run_copy, capsys):
    """-o and --screenshot into a missing directory, onto a directory, or where nothing can be written."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    for command in (["plot", run_copy, "-o"], ["watch", run_copy, "--max-frames", "2", "--screenshot"],
                    ["play", "cartpole", "--max-frames", "2", "--screenshot"]):
        flag = command[-1] if command[-1] != "-o" else "-o/--output"
        expect_one_line_error(capsys, [*command, "/nonexistent/dir/x.png"],
                              f"argument {flag}: directory /nonexistent/dir does not exist", tmp_path)
        expect_one_line_error(capsys, [*command, afile / "x.png"],
                              f"argument {flag}: directory {afile} does not exist", tmp_path)
        expect_one_line_error(capsys, [*command, tmp_path], f"argument {flag}: {tmp_path} is a directory", tmp_path)
    # /proc takes no new files, even from root: the write itself fails, after the work
    expect_one_line_error(capsys, ["plot", run_copy, "-o", "/proc/x.png"],
                          "argument -o/--output: cannot write /proc/x.png: No such file or directory", tmp_path)
    expect_one_line_error(capsys, ["watch", run_copy, "--max-frames", "2", "--screenshot", "/proc/x.png"],
                          "--screenshot: cannot write /proc/x.png: Couldn't open /proc/x.png", tmp_path)


@pytest.fixture
def python_run(tmp_path):
    """A run made from Python, as the Quickstart makes one: no config.json naming its game."""
    import esper

    from ecs_rl import TrainingSession
    from ecs_rl.algorithms import DqnAgent, presets
    from ecs_rl.ecs import install, step_world
    from ecs_rl.worlds import cartpole

    esper.switch_world("python-run")
    try:
        agent = DqnAgent(cartpole.observation_space, cartpole.action_space, presets.cartpole_dqn(seed=0))
        run = TrainingRun.create("cartpole", "v1", root=tmp_path / "runs")
        session = TrainingSession(agent).with_run(run).with_max_steps(200)
        cartpole.build(n_envs=2, seed=0)
        plugin = install({"cartpole": session}, reset=cartpole.reset)
        with session:
            step_world(plugin=plugin)
    finally:
        esper.switch_world("default")
        esper.delete_world("python-run")
    assert not (run.path / "config.json").exists() and (run.path / "checkpoints" / "latest.pt").is_file()
    return run.path


def test_runs_made_from_python_work_with_watch_eval_and_play_given_the_game(python_run, run_copy, capsys):
    root = python_run.parent.parent.parent
    for command in (["watch", root / "cartpole", "--max-frames", "2"], ["eval", python_run, "--episodes", "2"]):
        expect_one_line_error(capsys, command,
                              f"{python_run / 'config.json'} names no game (a run made from Python): pass --game GAME "
                              "(cartpole, foragers, hunt, path/to/game.py:make_game or module:make_game), or record "
                              "it in the run with run.write_config({\"game\": ...})", root)
    assert main(["watch", str(root / "cartpole"), "--game", "cartpole", "--max-frames", "2"]) == 0
    assert main(["eval", str(python_run), "--game", "cartpole", "--episodes", "2"]) == 0
    assert "Evaluation of" in capsys.readouterr().out
    assert main(["play", "cartpole", "--run", str(python_run), "--max-frames", "2"]) == 0  # play names the game
    expect_one_line_error(capsys, ["eval", run_copy, "--game", "foragers"],
                          f"--game foragers: {run_copy} was trained on 'cartpole' ({run_copy / 'config.json'}); "
                          "leave out --game", run_copy.parent)
    assert main(["eval", str(run_copy), "--game", "cartpole", "--episodes", "2"]) == 0  # agreeing is fine


def test_resume_accepts_runs_written_with_the_retired_torch_settings(tmp_path, capsys):
    """Runs from before configure_torch() hold num_threads / flush_denormal in their agent config."""
    import json

    from ecs_rl.algorithms import configure_torch, torch_settings

    before = torch_settings()
    try:
        assert main(["train", "cartpole", "--steps", "300", "--eval-freq", "300", "--full", "--root", str(tmp_path)]) == 0
        assert torch_settings().num_threads == 1  # the command set torch's process-wide settings, at its start
        (run_dir,) = tmp_path.glob("cartpole/dqn/*")
        config = json.loads((run_dir / "config.json").read_text())
        assert "num_threads" not in config["agent"]
        config["agent"].update(num_threads=1, flush_denormal=True)
        (run_dir / "config.json").write_text(json.dumps(config))
        assert main(["train", "--resume", str(run_dir), "--steps", "600", "--eval-freq", "300", "--full"]) == 0
        assert json.loads((run_dir / "metadata.json").read_text())["total_steps"] == 600

        config["agent"]["learning_rat"] = 0.1
        (run_dir / "config.json").write_text(json.dumps(config))
        capsys.readouterr()
        assert main(["train", "--resume", str(run_dir), "--steps", "900"]) == 2
        err = capsys.readouterr().err
        assert "config.json: agent settings learning_rat are not DqnConfig fields" in err and err.count("\n") == 1
    finally:
        configure_torch(before.num_threads, before.flush_denormal)
