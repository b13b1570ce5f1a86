"""Stats behaviours that mutation testing found unchecked: every aggregator's fold from a reset, the rolling
mean's window checks and its exact re-summing, a tracker's sources, errors, chaining, merging and reset, and
the exact text of tables, numbers and reports."""

import math

import numpy as np
import pytest

from ecs_rl.core.stats import (
    EvalReport, Extra, Last, Max, Mean, Min, RollingMean, StatsTracker, Std, extra, format_number, format_table,
)
from ecs_rl.core.types import EpisodeRecord


def _fold(aggregator, values):
    for value in values:
        aggregator.update(value)
    return aggregator.value


def test_each_aggregator_folds_from_a_reset_as_from_new():
    cases = [(Mean, [2.0, 4.0, 9.0], 5.0), (Max, [-5.0, -7.0, -6.0], -5.0), (Max, [1.0, 3.0, 2.0], 3.0),
             (Min, [5.0, 7.0, 6.0], 5.0), (Min, [-1.0, -3.0, -2.0], -3.0), (Last, [1.0, 0.0], 0.0),
             (Mean, [0.0], 0.0)]
    for make, values, expected in cases:
        aggregator = make()
        assert _fold(aggregator, values) == expected, (make, values)
        aggregator.reset()
        assert math.isnan(aggregator.value)
        assert _fold(aggregator, values) == expected, (make, values)  # reset starts the fold afresh


def test_std_of_equal_values_is_zero_and_of_tiny_values_is_exact():
    std = Std()
    assert _fold(std, [0.1]) == 0.0
    assert _fold(std, [0.1, 0.1]) == 0.0
    std.reset()
    assert math.isnan(std.value)
    assert _fold(std, [1e-20, 3e-20]) == pytest.approx(1e-20, rel=1e-9)
    std.reset()
    values = [2.5, -1.0, 7.0, 7.0, 0.0]
    assert _fold(std, values) == pytest.approx(float(np.std(values)), rel=1e-12)


@pytest.mark.parametrize("window", [True, 2.0, "3", None])
def test_rolling_mean_refuses_a_window_that_is_not_an_integer(window):
    with pytest.raises(ValueError) as error:
        RollingMean(window)
    assert error.value.args[0] == f"RollingMean window must be an integer >= 1, got {window!r}"


def test_rolling_mean_drops_the_oldest_value_of_a_full_window():
    agg = RollingMean(3)
    assert agg.window == 3
    means = [agg.update(v) or agg.value for v in (1.0, 2.0, 3.0, 10.0, 20.0, 30.0)]
    assert means == [1.0, 1.5, 2.0, 5.0, 11.0, 20.0]
    assert RollingMean(1).window == 1 and RollingMean(2).window == 2 and RollingMean().window == 100


def test_rolling_mean_resums_its_window_exactly_every_sixteen_windows_of_updates():
    # 1e16 + 1 rounds to 1e16: the running sum loses the 1 and keeps the loss until the window is re-summed
    agg = RollingMean(2)
    for _ in range(2):  # a reset starts the count afresh
        agg.update(1e16)
        values = []
        for _ in range(31):
            agg.update(1.0)
            values.append(agg.value)
        assert values[29] == 0.5  # 31 updates: still the running sum
        assert values[30] == 1.0  # 32 = 2 * 16 updates: re-summed exactly
        agg.reset()
        assert math.isnan(agg.value)


def test_a_tracker_reads_each_source_and_skips_what_an_episode_lacks():
    tracker = StatsTracker()
    assert tracker.episodes == 0 and tracker.summary() == {}
    assert tracker.track("missing", extra("absent"), Last()) is tracker
    tracker.track("reward", "reward", Last()).track("length", "length", Last())
    tracker.track("loss", extra("loss"), Last()).track("whole", lambda r: r.length * 2, Last())
    assert extra("loss") == Extra("loss") and extra("loss").name == "loss"
    tracker.update(EpisodeRecord(2.5, 4, extras={"loss": 0.25}))
    tracker.update(EpisodeRecord(-1.0, 3))
    summary = tracker.summary()
    assert math.isnan(summary.pop("missing"))
    assert summary == {"reward": -1.0, "length": 3.0, "loss": 0.25, "whole": 6.0}
    assert type(tracker.get("whole")) is float and tracker.episodes == 2
    tracker.reset()
    assert tracker.episodes == 0 and tracker.names == ["missing", "reward", "length", "loss", "whole"]
    assert all(math.isnan(v) for v in tracker.summary().values())
    tracker.update(EpisodeRecord(1.0, 1))
    assert tracker.episodes == 1 and tracker.get("reward") == 1.0


def test_a_tracker_names_what_is_wrong():
    messages = {
        "name": (lambda: StatsTracker().track("", "reward", Mean()), "stat name must be a non-empty string, got ''"),
        "source": (lambda: StatsTracker().track("x", "Reward", Mean()),
                   "unknown stat source 'Reward': use 'reward', 'length', extra('name') or a function of the record"),
        "object": (lambda: StatsTracker().track("x", 5, Mean()),
                   "unknown stat source 5: use 'reward', 'length', extra('name') or a function"),
        "aggregator": (lambda: StatsTracker().track("x", "reward", Mean),
                       f"stat 'x': aggregator must be an Aggregator, got {Mean!r}"),
        "include": (lambda: StatsTracker().include({}), "include() needs a StatsTracker, got dict"),
    }
    for what, (call, message) in messages.items():
        with pytest.raises(ValueError) as error:
            call()
        assert error.value.args[0] == message, what
    with pytest.raises(KeyError) as error:
        StatsTracker().get("x")
    assert error.value.args[0] == "no stat named 'x'; tracked: none"
    with pytest.raises(KeyError) as error:
        StatsTracker.default().get("x")
    assert error.value.args[0] == "no stat named 'x'; tracked: mean_reward, mean_length, mean_decisions"


def test_the_default_tracker_means_the_last_hundred_episodes():
    tracker = StatsTracker.default()
    assert tracker.names == ["mean_reward", "mean_length", "mean_decisions"]
    for i in range(101):
        tracker.update(EpisodeRecord(float(i), i, extras={"decisions": i // 2}))
    assert tracker.summary() == {"mean_reward": 50.5, "mean_length": 50.5, "mean_decisions": 25.0}


def test_include_adds_the_other_trackers_new_stats_after_or_before_its_own():
    def mine():
        return StatsTracker().track("best", "reward", Max()).track("mean_reward", "reward", Min())

    other = StatsTracker.default(window=2)
    assert mine().include(other) is not None
    after, before = mine().include(other), mine().include(other, first=True)
    assert after.names == ["best", "mean_reward", "mean_length", "mean_decisions"]
    assert before.names == ["mean_length", "mean_decisions", "best", "mean_reward"]
    for tracker in (after, before):
        for reward in (3.0, 1.0, 2.0):
            tracker.update(EpisodeRecord(reward, 2))
        assert tracker.get("mean_reward") == 1.0  # its own stat of that name is kept
        assert tracker.get("best") == 3.0 and tracker.get("mean_length") == 2.0


def test_format_table_aligns_pads_and_strips_exactly():
    rows = [["a", "1", "x"], ["longer", "22", "yy"], ["b", "333333", "z"]]
    assert format_table(["name", "n", "tag"], rows) == "\n".join([
        "name         n  tag",
        "------  ------  ---",
        "a            1    x",
        "longer      22   yy",
        "b       333333    z",
    ])
    assert format_table(["name", "n", "tag"], rows, align="rll") == "\n".join([
        "  name  n       tag",
        "------  ------  ---",
        "     a  1       x",
        "longer  22      yy",
        "     b  333333  z",
    ])
    assert format_table(["k"], [["value"]]) == "k\n-----\nvalue"
    assert format_table(["key", "v"], [["a", ""]], align="ll") == "key  v\n---  -\na"
    assert format_table(["k"], []) == "k\n-"


@pytest.mark.parametrize("value, text", [
    (math.nan, "-"), (0.0, "0"), (-5.0, "-5"), (7, "7"), (10**13, "10,000,000,000,000"),
    (999_999_999_999.0, "999,999,999,999"), (1e12, "1e+12"), (-1e12, "-1e+12"), (0.5, "0.500"),
    (0.01, "0.010"), (-0.01, "-0.010"), (0.00123, "0.00123"), (-0.00123, "-0.00123"), (1234.5, "1,234.500"),
    (999_999.5, "999,999.500"), (1_000_000.5, "1e+06"), (-1_000_000.5, "-1e+06"),
])
def test_format_number_picks_integer_fixed_or_general_form(value, text):
    assert format_number(value) == text


def test_an_evaluation_report_is_its_title_and_a_left_aligned_table():
    report = EvalReport(3, {"mean_reward": 0.5, "mean_length": 12.0, "mean_decisions": math.nan, "loss": math.nan})
    assert str(report) == "\n".join([
        "Evaluation report",
        "stat               value",
        "-----------------  -----",
        "episodes (report)  3",
        "mean_reward        0.500",
        "mean_length        12",
        "loss               -",
    ])


def test_a_training_report_counts_steps_and_names_units_when_decisions_are_counted():
    plain = EvalReport(2, {"mean_reward": 1.0}, total_steps=1500, total_episodes=0, title="Training",
                       info={"run": "runs/x"})
    assert str(plain) == "\n".join([
        "Training",
        "stat               value",
        "-----------------  ------",
        "episodes (report)  2",
        "total steps        1,500",
        "total episodes     0",
        "mean_reward        1",
        "run                runs/x",
    ])
    timed = EvalReport(1, {"mean_length": 8.0, "mean_decisions": 2.0, "other": 3.0}, total_steps=0,
                       total_episodes=4)
    assert str(timed) == "\n".join([
        "Evaluation report",
        "stat                     value",
        "-----------------------  -----",
        "episodes (report)        1",
        "total steps (decisions)  0",
        "total episodes           4",
        "mean_length (ticks)      8",
        "mean_decisions (steps)   2",
        "other                    3",
    ])
