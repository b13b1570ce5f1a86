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
