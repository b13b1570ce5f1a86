import math

import numpy as np
import pytest

from ecs_rl import EpisodeRecord, EvalReport, Last, Max, Mean, Min, RollingMean, StatsTracker, Std, extra

VALUES = [3.0, -1.5, 8.25, 0.0, 4.0, 11.0, -7.0]


@pytest.mark.parametrize(
    "aggregator, expected",
    [
        (Mean(), np.mean(VALUES)),
        (Max(), max(VALUES)),
        (Min(), min(VALUES)),
        (Last(), VALUES[-1]),
        (RollingMean(3), np.mean(VALUES[-3:])),
        (Std(), np.std(VALUES)),
    ],
    ids=lambda a: repr(a),
)
def test_aggregators_match_numpy_and_reset_to_nan(aggregator, expected):
    assert math.isnan(aggregator.value)
    for v in VALUES:
        aggregator.update(v)
    assert aggregator.value == pytest.approx(expected)
    aggregator.reset()
    assert math.isnan(aggregator.value)


def test_rolling_mean_stays_exact_over_a_long_stream():
    agg = RollingMean(10)
    rng = np.random.default_rng(0)
    stream = rng.normal(1e6, 1.0, size=5000)
    for v in stream:
        agg.update(float(v))
    assert agg.value == pytest.approx(np.mean(stream[-10:]), rel=1e-12)


def test_rolling_mean_window_must_be_positive():
    with pytest.raises(ValueError, match="window"):
        RollingMean(0)


def test_tracker_sources_reward_length_extra_and_function():
    tracker = (
        StatsTracker()
        .track("reward_max", "reward", Max())
        .track("length_mean", "length", Mean())
        .track("loss", extra("loss"), Mean())
        .track("reward_per_step", lambda r: r.total_reward / r.length, Last())
    )
    tracker.update(EpisodeRecord(10.0, 5, extras={"loss": 2.0}))
    tracker.update(EpisodeRecord(30.0, 10))  # no loss: the loss stat is left as it was
    tracker.update(EpisodeRecord(20.0, 15, extras={"loss": math.nan}))  # NaN loss is skipped
    summary = tracker.summary()
    assert summary == {"reward_max": 30.0, "length_mean": 10.0, "loss": 2.0, "reward_per_step": 20.0 / 15}
    assert tracker.episodes == 3


def test_unknown_stat_source_is_named():
    with pytest.raises(ValueError, match="'rewards'"):
        StatsTracker().track("x", "rewards", Mean())
    with pytest.raises(ValueError, match="aggregator"):
        StatsTracker().track("x", "reward", "mean")
    with pytest.raises(KeyError, match="'nope'"):
        StatsTracker.default().get("nope")


def test_default_tracker_reports_mean_reward_and_length():
    tracker = StatsTracker.default(window=2)
    for reward, length in [(1.0, 10), (3.0, 20), (5.0, 30)]:
        tracker.update(EpisodeRecord(reward, length))
    summary = tracker.summary()
    assert {k: summary[k] for k in ("mean_reward", "mean_length")} == {"mean_reward": 4.0, "mean_length": 25.0}
    assert math.isnan(summary["mean_decisions"])  # no decision period: no decisions extra
    tracker.update(EpisodeRecord(7.0, 40, extras={"decisions": 10}))
    assert tracker.get("mean_decisions") == 10.0 and tracker.get("mean_length") == 35.0


def test_eval_report_prints_a_table():
    report = EvalReport(20, {"mean_reward": 475.5, "loss": math.nan}, total_steps=50_000, total_episodes=300)
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == "Evaluation report"
    assert any(line.split()[:1] == ["mean_reward"] and line.endswith("475.500") for line in lines)
    assert any("50,000" in line and line.startswith("total steps") for line in lines)
    assert any(line.startswith("loss") and line.rstrip().endswith("-") for line in lines)
