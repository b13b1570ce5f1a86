"""README's figures come from the committed results files: benchmarks/report.py --check fails when one differs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "report.py"


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPORT), *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the two READMEs and the results files, for the generator's --root."""
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy(ROOT / "benchmarks" / "README.md", tmp_path / "benchmarks" / "README.md")
    shutil.copytree(ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results")
    return tmp_path


def region(text: str, name: str) -> str:
    match = re.search(rf"<!-- figures: {re.escape(name)} -->\n(.*?)<!-- /figures -->", text, re.S)
    assert match, f"no region {name!r}"
    return match.group(1)


def test_every_readme_figure_is_what_its_results_file_renders():
    proc = report("--check")
    assert proc.returncode == 0, proc.stderr
    readme = (ROOT / "README.md").read_text()
    assert "<!-- figures: benchmarks -->" in readme and "<!-- figures: main-job -->" in readme


def test_a_number_edited_in_the_readme_fails_the_check_naming_its_region(tree: Path):
    readme = tree / "README.md"
    text = readme.read_text()
    body = region(text, "benchmarks")
    number = re.search(r"\d+\.\d\dx", body).group(0)  # the first ratio in the table
    edited = body.replace(number, "0.01x", 1)
    readme.write_text(text.replace(body, edited))
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 1
    assert "README.md: region 'benchmarks' differs" in proc.stderr
    assert proc.stderr.count("differs") == 1  # the other regions, and benchmarks/README.md, still agree
    # without --check the region is rendered again, and the check then passes; prose outside is untouched
    readme.write_text(readme.read_text().replace("Reinforcement learning driven by", "RL driven by"))
    assert report("--root", str(tree)).returncode == 0
    assert report("--check", "--root", str(tree)).returncode == 0
    assert region(readme.read_text(), "benchmarks") == body
    assert readme.read_text().count("RL driven by") == 1


def test_a_changed_results_file_fails_the_check_for_every_region_it_feeds(tree: Path):
    path = tree / "benchmarks" / "results" / "cartpole-seeds.json"
    data = json.loads(path.read_text())
    data["runs"][0]["solved_step"] += 5_000
    path.write_text(json.dumps(data))
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 1
    assert "region 'main-job' differs" in proc.stderr
    assert "region 'benchmarks' differs" not in proc.stderr


def test_a_missing_results_file_fails_the_check_and_is_said_in_its_region(tree: Path):
    (tree / "benchmarks" / "results" / "inference-speed.json").unlink()
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 1
    assert "README.md: region 'inference' differs" in proc.stderr and "inference-speed.json" in proc.stderr
    assert report("--root", str(tree)).returncode == 0
    readme = (tree / "README.md").read_text()
    assert region(readme, "inference") == ("No results yet: the benchmark writes `benchmarks/results/inference-speed.json`"
                                           " when run with `--write`.\n")
    assert "no results file yet (benchmarks/results/inference-speed.json)" in region(readme, "benchmarks")


def test_a_mutation_sample_of_one_package_is_not_rendered_as_the_score(tree: Path):
    path = tree / "benchmarks" / "results" / "mutation.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "package": "ecs_rl.ecs"}))  # scripts/mutation.py --package ecs_rl.ecs
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 1 and "region 'mutation' differs" in proc.stderr
    assert "a sample of ecs_rl.ecs only" in proc.stderr


def test_an_unknown_or_unclosed_region_is_an_error(tree: Path):
    bench = tree / "benchmarks" / "README.md"
    text = bench.read_text()
    bench.write_text(text + "\n<!-- figures: nosuch -->\n<!-- /figures -->\n")
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 2 and "region 'nosuch' has no renderer" in proc.stderr
    bench.write_text(text + "\n<!-- figures: sb3-dqn -->\n")
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 2 and "markers" in proc.stderr


def test_plots_are_drawn_from_the_results_files(tree: Path):
    pytest.importorskip("matplotlib")
    (tree / "assets").mkdir()
    proc = report("--plots", "--root", str(tree))
    assert proc.returncode == 0, proc.stderr
    for name in ("cartpole_reward.png", "foragers_reward.png", "selfplay-ratings.png"):
        assert (tree / "assets" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmarks_write_only_inside_results_and_only_when_asked():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "algorithms_vs_sb3.py"), "--write", "../elsewhere"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "--write ../elsewhere: a folder inside benchmarks/results/" in proc.stderr
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import results_file
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert results_file.write("never", {"x": 1}, None) is None
    assert not (results_file.RESULTS / "never.json").exists()


# -- the figures of the demos, self-play and checkpoints ---------------------------------------------

def double(data: dict, path: tuple) -> None:
    """Double the number at ``path`` (keys and indexes) in ``data``, plus one (a zero changes too)."""
    *head, last = path
    for key in head:
        data = data[key]
    data[last] = 2 * data[last] + 1


@pytest.mark.parametrize("name, path, regions", [
    ("catch-demo", ("eval", "trained", "mean"), ["catch-demo"]),
    ("maze-masks", ("rows", 0, "bumps"), ["maze-masks"]),
    ("maze-masks", ("shortest_paths",), ["maze-masks"]),
    ("checkpoint-size", ("bytes", "with replay"), ["checkpoint-size"]),
    ("selfplay-ratings", ("seeds", 1, "teams", "prey", "current", "rating"), ["selfplay-ratings"]),
    ("selfplay-ratings", ("seeds", 0, "wall_seconds"), ["selfplay-ratings"]),
    ("selfplay-head-to-head", ("games", 0, "escapes"), ["selfplay-head-to-head", "selfplay-head-to-head-table"]),
])
def test_each_new_figure_comes_from_its_results_file(tree: Path, name: str, path: tuple, regions: list[str]):
    file = tree / "benchmarks" / "results" / f"{name}.json"
    data = json.loads(file.read_text())
    double(data, path)
    file.write_text(json.dumps(data))
    proc = report("--check", "--root", str(tree))
    assert proc.returncode == 1
    assert sorted(re.findall(r"region '([\w.-]+)' differs", proc.stderr)) == sorted(regions), proc.stderr


def test_the_selfplay_claims_follow_the_ratings(tree: Path):
    """The sentence under the ratings table says on which seeds each team's latest snapshot beat its first."""
    file = tree / "benchmarks" / "results" / "selfplay-ratings.json"
    data = json.loads(file.read_text())
    for s in data["seeds"]:
        s["teams"]["predator"]["latest"]["rating"] = s["teams"]["predator"]["first"]["rating"] + 100
        s["teams"]["prey"]["latest"]["rating"] = s["teams"]["prey"]["first"]["rating"] - 1
    data["seeds"][-1]["teams"]["prey"]["latest"]["rating"] += 2
    file.write_text(json.dumps(data))
    assert report("--root", str(tree)).returncode == 0
    text = region((tree / "README.md").read_text(), "selfplay-ratings")
    assert f"the predators on every seed; the prey on seed {data['seeds'][-1]['seed']} only." in text


def test_demo_games_reads_what_the_maze_demo_prints():
    """The real ``python demos/maze.py`` (a small budget), read back as ``demo_games.py --only maze`` reads it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import demo_games
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    got = demo_games.maze(["--algo", "dqn", "--seeds", "2", "--chunks", "1", "--chunk", "64"])
    assert [(r["algo"], r["seed"]) for r in got["rows"]] == [("dqn", 0), ("dqn", 1)]
    assert all(r["bumps"] > 0 for r in got["rows"])  # 64 mostly random decisions without masks bump into walls
    # the walker that steps towards the goal reaches it from every start: +1 less 0.01 a step (at most 16 steps)
    assert got["evaluations"] == 1 and 0.84 <= got["shortest_paths"] <= 0.99


def test_selfplay_ratings_refuses_a_root_that_holds_a_seed_already(tmp_path: Path):
    (tmp_path / "seed-1").mkdir()
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "selfplay_ratings.py"), "--root", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and f"--root {tmp_path}: seed-1 there already" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-1"]  # nothing trained
