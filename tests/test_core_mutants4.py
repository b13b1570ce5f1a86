"""Stats behaviours that mutation testing found unchecked: a table with no rows, an evaluation report's
left-aligned values, a rolling mean over a window of one, and a stat's name checked before it is tracked."""

import pytest

from ecs_rl.core.stats import EvalReport, Mean, RollingMean, StatsTracker, format_table


def test_format_table_with_no_rows_prints_the_headers_and_their_rule():
    table = format_table(["name", "steps"], [])
    assert table.splitlines() == ["name  steps", "----  -----"]


def test_eval_report_left_aligns_the_value_column():
    report = EvalReport(n_episodes=3, stats={"mean_reward": 1234.5, "best": 7.0}, title="Report")
    lines = str(report).splitlines()
    assert lines[0] == "Report"
    value_lines = {line.split()[0]: line for line in lines[3:]}
    assert set(value_lines) == {"episodes", "mean_reward", "best"}
    starts = {name: line.index(value) for (name, line), value in
              zip(value_lines.items(), ["3", "1,234.500", "7"])}
    assert len(set(starts.values())) == 1, starts  # every value starts in the same column


def test_rolling_mean_window_of_one_is_the_latest_value():
    agg = RollingMean(1)
    assert repr(agg) == "RollingMean(1)"
    for value in (4.0, -2.0, 9.5):
        agg.update(value)
        assert agg.value == value


@pytest.mark.parametrize("window", [0, -3])
def test_rolling_mean_window_below_one_is_refused(window):
    with pytest.raises(ValueError, match=rf"RollingMean window must be an integer >= 1, got {window}"):
        RollingMean(window)


@pytest.mark.parametrize("name", ["", 5, None])
def test_track_refuses_an_empty_or_non_string_name(name):
    tracker = StatsTracker()
    with pytest.raises(ValueError, match=rf"stat name must be a non-empty string, got {name!r}"):
        tracker.track(name, "reward", Mean())
    assert tracker.names == []
