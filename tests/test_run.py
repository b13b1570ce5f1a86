import json
import os

import pytest

from ecs_rl import EpisodeRecord, RunError, TrainingRun


def test_create_makes_the_documented_layout(tmp_path):
    run = TrainingRun.create("cartpole", "v1", root=tmp_path)
    assert run.path.parent == tmp_path / "cartpole" / "v1"
    assert (run.path / "checkpoints").is_dir()
    meta = json.loads((run.path / "metadata.json").read_text())
    assert meta["name"] == "cartpole" and meta["version"] == "v1" and meta["run_id"] == run.path.name
    assert meta["total_steps"] == 0 and meta["total_episodes"] == 0 and meta["started"]
    assert run.checkpoint_path(500).name == "step_500.pt"
    assert run.latest_path.name == "latest.pt" and run.best_path.name == "best.pt"


def test_runs_created_in_the_same_second_get_distinct_directories(tmp_path):
    runs = [TrainingRun.create("same", "v1", root=tmp_path) for _ in range(5)]
    paths = {r.path for r in runs}
    assert len(paths) == 5
    # within one second the first is the bare timestamp and the others carry _1, _2, ...
    stamps = {r.run_id.split("_")[0] + "_" + r.run_id.split("_")[1] for r in runs}
    if len(stamps) == 1:
        assert sorted(r.run_id for r in runs)[1:] == [f"{runs[0].run_id}_{k}" for k in range(1, 5)]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden"])
def test_create_refuses_unsafe_names(tmp_path, name):
    with pytest.raises(ValueError, match="name"):
        TrainingRun.create(name, "v1", root=tmp_path)


def test_resume_accepts_run_version_and_name_directories(tmp_path):
    older = TrainingRun.create("game", "v1", root=tmp_path)
    newer = TrainingRun.create("game", "v1", root=tmp_path)
    assert TrainingRun.resume(older.path).path == older.path
    assert TrainingRun.resume(tmp_path / "game" / "v1").path == newer.path
    assert TrainingRun.resume(tmp_path / "game").path == newer.path
    assert TrainingRun.resume(newer.path).resumed


def test_resume_without_a_run_names_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no run found under .*empty"):
        TrainingRun.resume(tmp_path / "empty")
    with pytest.raises(RunError, match="does not exist"):
        TrainingRun.resume(tmp_path / "missing")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"name": "x", "version": "v1", "run_id": "r", "total_steps": 5}', "missing 'total_episodes'"),
        ('{"name": "x", "version": "v1", "run_id": "r", "total_steps": "5", "total_episodes": 0}', "'total_steps'"),
    ],
)
def test_corrupt_metadata_is_named_and_never_overwritten(tmp_path, content, message):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    meta = run.path / "metadata.json"
    meta.write_text(content)
    with pytest.raises(RunError, match=message) as info:
        TrainingRun.resume(run.path)
    assert str(meta) in str(info.value)
    assert meta.read_text() == content


def test_missing_metadata_is_named(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    (run.path / "metadata.json").unlink()
    (run.path / "train_episodes.jsonl").write_text("")
    with pytest.raises(RunError, match="no run found"):
        TrainingRun.resume(run.path)


def test_prune_keeps_newest_numbered_and_never_latest_or_best(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    for step in (100, 200, 300, 1000, 50):
        run.checkpoint_path(step).write_bytes(b"x")
    run.latest_path.write_bytes(b"l")
    run.best_path.write_bytes(b"b")
    removed = run.prune_checkpoints(2)
    assert sorted(p.name for p in removed) == ["step_100.pt", "step_200.pt", "step_50.pt"]
    assert [s for s, _ in run.numbered_checkpoints()] == [300, 1000]  # numeric, not lexical, order
    assert run.latest_path.exists() and run.best_path.exists()
    run.prune_checkpoints(0)
    assert run.numbered_checkpoints() == []
    with pytest.raises(ValueError, match="keep"):
        run.prune_checkpoints(-1)


def test_logs_config_and_metadata_round_trip(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.write_config({"lr": 1e-3, "hidden": [64, 64]})
    assert run.read_config() == {"lr": 1e-3, "hidden": [64, 64]}
    with pytest.raises(ValueError, match="config.json"):
        run.write_config({"bad": object()})
    run.log_train_episode(EpisodeRecord(3.0, 4), step=4, episode=1, agent_id=2)
    run.log_eval_episode(EpisodeRecord(9.0, 9), step=4)
    assert run.read_train_episodes() == [
        {"episode": 1, "step": 4, "total_reward": 3.0, "length": 4, "status": "terminated", "extras": {}, "agent_id": 2}
    ]
    assert run.read_eval_episodes()[0]["total_reward"] == 9.0
    run.update_metadata(4, 1, best_eval_reward=9.0)
    again = TrainingRun.resume(run.path)
    assert again.metadata["total_steps"] == 4 and again.metadata["best_eval_reward"] == 9.0
    leftovers = [p.name for p in run.path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_failed_write_leaves_the_old_file(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    before = (run.path / "metadata.json").read_text()
    with pytest.raises(ValueError):
        run.update_metadata(1, 1, bad=float("nan"))  # strict JSON refuses NaN mid-write
    assert (run.path / "metadata.json").read_text() == before
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_log_line_is_named(tmp_path):
    run = TrainingRun.create("game", "v1", root=tmp_path)
    run.train_log_path.write_text('{"episode": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"train_episodes.jsonl:2"):
        run.read_train_episodes()


def test_list_runs_reports_unreadable_ones(tmp_path):
    good = TrainingRun.create("a", "v1", root=tmp_path)
    bad = TrainingRun.create("b", "v1", root=tmp_path)
    (bad.path / "metadata.json").write_text("{")
    found = dict(TrainingRun.list_runs(tmp_path))
    assert found[good.path]["name"] == "a"
    assert isinstance(found[bad.path], RunError)
    with pytest.raises(RunError, match="does not exist"):
        TrainingRun.list_runs(tmp_path / "nowhere")
    assert os.path.isdir(tmp_path / "a" / "v1")
