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
