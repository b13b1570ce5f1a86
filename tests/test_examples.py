"""The example scripts in demos/ run end to end on a small budget."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plain_loop_example_writes_a_run_and_prints_the_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, ROOT / "demos" / "plain_loop.py", "--steps", "1500", "--root", tmp_path, "--checkpoint-freq", "500"],
        capture_output=True, text=True, check=True,
    )
    assert "Training report" in proc.stdout and "1,500" in proc.stdout
    (meta_path,) = tmp_path.glob("*/*/*/metadata.json")
    meta = json.loads(meta_path.read_text())
    assert meta["total_steps"] == 1500 and meta["total_episodes"] > 0
    assert (meta_path.parent / "checkpoints" / "best.pt").exists()
