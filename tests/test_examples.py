"""The example scripts in demos/ run end to end on a small budget."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plain_loop_example_writes_a_run_and_prints_the_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, ROOT / "demos" / "plain_loop.py", "--algo", "dqn", "--steps", "3000", "--root", tmp_path,
         "--checkpoint-freq", "1000", "--eval-freq", "1500"],
        capture_output=True, text=True, check=True,
    )
    assert "Training report" in proc.stdout and "3,000" in proc.stdout
    assert "greedy evaluations" in proc.stdout and "1,500:" in proc.stdout
    (meta_path,) = tmp_path.glob("cartpole-gym/dqn/*/metadata.json")
    meta = json.loads(meta_path.read_text())
    assert meta["total_steps"] == 3000 and meta["total_episodes"] > 0 and meta["best_eval_reward"] is not None
    checkpoints = meta_path.parent / "checkpoints"
    assert (checkpoints / "best.pt").exists() and (checkpoints / "latest.pt").exists()
    config = json.loads((meta_path.parent / "config.json").read_text())
    assert config["agent"]["train_freq"] == 256


def test_ecs_cartpole_demo_trains_through_the_plugin_and_reports(tmp_path):
    proc = subprocess.run(
        [sys.executable, ROOT / "demos" / "ecs_cartpole.py", "--steps", "4000", "--envs", "2", "--root", tmp_path,
         "--eval-freq", "2000"],
        capture_output=True, text=True, check=True,
    )
    assert "Training report" in proc.stdout and "greedy evaluations" in proc.stdout
    assert "2,000:" in proc.stdout and "4,000:" in proc.stdout
    (meta_path,) = tmp_path.glob("cartpole-ecs/dqn/*/metadata.json")
    meta = json.loads(meta_path.read_text())
    assert meta["total_steps"] == 4000 and meta["best_eval_reward"] is not None
    evals = [json.loads(line) for line in (meta_path.parent / "eval_episodes.jsonl").read_text().splitlines()]
    assert len(evals) == 40 and {e["step"] for e in evals} == {2000, 4000}
