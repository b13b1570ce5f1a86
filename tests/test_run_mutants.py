"""TrainingRun behaviours that mutation testing found unchecked: which run is the newest, same-second run ids,
timestamps with their timezone."""

import json
from datetime import datetime, timedelta

import pytest

import ecs_rl.core.run as run_module
from ecs_rl import RunError, TrainingRun


def fake_run(parent, run_id):
    path = parent / run_id
    path.mkdir(parents=True)
    meta = {"name": "g", "version": "v1", "run_id": run_id, "total_steps": 0, "total_episodes": 0}
    (path / "metadata.json").write_text(json.dumps(meta))
    return path


def test_find_orders_same_second_runs_by_their_number_not_as_text(tmp_path):
    parent = tmp_path / "g" / "v1"
    for run_id in ("20260101_120000", "20260101_120000_2", "20260101_120000_10", "20260101_120000_9"):
        fake_run(parent, run_id)
    assert TrainingRun.find(parent).name == "20260101_120000_10"
    assert TrainingRun.find(tmp_path / "g").name == "20260101_120000_10"
    fake_run(parent, "20260101_120001")  # a later second beats any suffix of an earlier one
    assert TrainingRun.find(parent).name == "20260101_120001"
    assert TrainingRun.find(parent / "20260101_120000_2").name == "20260101_120000_2"


def test_find_picks_the_newest_across_versions_and_ignores_other_names(tmp_path):
    fake_run(tmp_path / "g" / "v1", "20260101_120005")
    fake_run(tmp_path / "g" / "v2", "20260101_120003_1")
    fake_run(tmp_path / "g" / "v2", "oddly-named")  # not a timestamp: sorts by its name, not an error
    assert TrainingRun.find(tmp_path / "g").name == "oddly-named"
    assert run_module._run_sort_key("20260101_120000_12") == ("20260101_120000", 12)
    assert run_module._run_sort_key("20260101_120000") == ("20260101_120000", 0)
    assert run_module._run_sort_key("20260101_120000_x") == ("20260101_120000", 0)
    assert run_module._run_sort_key("single") == ("single", 0)


def test_find_names_what_is_wrong(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        TrainingRun.find(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is not a directory"):
        TrainingRun.find(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no run found under"):
        TrainingRun.find(tmp_path / "empty")


def test_timestamps_are_utc_with_their_offset(tmp_path):
    run = TrainingRun.create("clock", "v1", root=tmp_path)
    meta = json.loads((run.path / "metadata.json").read_text())
    started = datetime.fromisoformat(meta["started"])
    assert started.utcoffset() == timedelta(0) and meta["started"] == meta["last_updated"]
    run.update_metadata(5, 1)
    updated = datetime.fromisoformat(json.loads((run.path / "metadata.json").read_text())["last_updated"])
    assert updated.utcoffset() == timedelta(0) and started <= updated
    assert run.metadata["total_steps"] == 5 and run.metadata["started"] == meta["started"]


def test_new_run_metadata_has_every_field_a_reader_needs(tmp_path):
    run = TrainingRun.create("fields", "v7", root=tmp_path)
    meta = run_module.read_metadata(run.path / "metadata.json")
    assert {k: meta[k] for k in ("name", "version", "run_id", "total_steps", "total_episodes", "best_eval_reward")} \
        == {"name": "fields", "version": "v7", "run_id": run.run_id, "total_steps": 0, "total_episodes": 0,
            "best_eval_reward": None}
    assert (run.name, run.version, run.resumed) == ("fields", "v7", False)
    assert TrainingRun.resume(run.path).resumed


@pytest.mark.parametrize("field, value, message", [
    ("total_steps", True, "'total_steps' should be int"),
    ("total_steps", "3", "'total_steps' should be int"),
    ("run_id", 5, "'run_id' should be str"),
    ("total_episodes", -1, "negative counts"),
    ("total_steps", -1, "negative counts"),
])
def test_read_metadata_names_the_bad_field(tmp_path, field, value, message):
    path = fake_run(tmp_path, "r") / "metadata.json"
    meta = json.loads(path.read_text())
    meta[field] = value
    path.write_text(json.dumps(meta))
    with pytest.raises(RunError, match=message):
        run_module.read_metadata(path)


def test_a_metadata_with_zero_counts_reads(tmp_path):
    path = fake_run(tmp_path, "r") / "metadata.json"
    assert run_module.read_metadata(path)["total_steps"] == 0


def test_prune_with_keep_zero_and_one(tmp_path):
    run = TrainingRun.create("prune", "v1", root=tmp_path)
    for step in (10, 20, 30):
        run.checkpoint_path(step).write_bytes(b"x")
        (run.checkpoints_dir / f"step_{step}.pt.session.json").write_text("{}")
    (run.checkpoints_dir / "notes.txt").write_text("kept")
    assert [p.name for p in run.prune_checkpoints(1)] == ["step_10.pt", "step_20.pt"]
    assert [s for s, _ in run.numbered_checkpoints()] == [30]
    assert not (run.checkpoints_dir / "step_10.pt.session.json").exists()
    assert (run.checkpoints_dir / "step_30.pt.session.json").exists()
    assert [p.name for p in run.prune_checkpoints(0)] == ["step_30.pt"]
    assert run.numbered_checkpoints() == [] and (run.checkpoints_dir / "notes.txt").exists()
    with pytest.raises(ValueError, match="keep must be >= 0, got -1"):
        run.prune_checkpoints(-1)
