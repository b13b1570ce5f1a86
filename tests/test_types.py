import json
import math

import pytest

from ecs_rl import EpisodeRecord, EpisodeStatus, Experience


def test_status_from_gymnasium_flags():
    assert EpisodeStatus.from_flags(False, False) is EpisodeStatus.RUNNING
    assert EpisodeStatus.from_flags(True, False) is EpisodeStatus.TERMINATED
    assert EpisodeStatus.from_flags(False, True) is EpisodeStatus.TRUNCATED
    assert EpisodeStatus.from_flags(True, True) is EpisodeStatus.TERMINATED
    assert not EpisodeStatus.RUNNING.is_done and EpisodeStatus.TRUNCATED.is_done


def test_experience_flags_follow_status():
    exp = Experience([0.0], 1, 1.0, [1.0], EpisodeStatus.TRUNCATED, agent_id=7)
    assert exp.truncated and not exp.terminated and exp.done and exp.agent_id == 7


def test_record_json_round_trip_keeps_nan_extras():
    record = EpisodeRecord(12.5, 40, EpisodeStatus.TRUNCATED, {"loss": math.nan, "epsilon": 0.25})
    text = json.dumps(record.to_json(), allow_nan=False)  # strict JSON: NaN must have become null
    back = EpisodeRecord.from_json(json.loads(text))
    assert back.total_reward == 12.5 and back.length == 40 and back.status is EpisodeStatus.TRUNCATED
    assert back.extras["epsilon"] == 0.25 and math.isnan(back.extras["loss"])


@pytest.mark.parametrize("reward", [math.nan, math.inf, -math.inf])
def test_record_refuses_non_finite_reward(reward):
    with pytest.raises(ValueError, match="total_reward must be finite"):
        EpisodeRecord(reward, 3)


@pytest.mark.parametrize("length", [-1, 2.5, True])
def test_record_refuses_bad_length(length):
    with pytest.raises(ValueError, match="length"):
        EpisodeRecord(1.0, length)


def test_record_from_json_names_missing_field_and_bad_status():
    with pytest.raises(ValueError, match="length"):
        EpisodeRecord.from_json({"total_reward": 1.0, "status": "terminated"})
    with pytest.raises(ValueError, match="'exploded'"):
        EpisodeRecord.from_json({"total_reward": 1.0, "length": 2, "status": "exploded"})
    with pytest.raises(ValueError, match=r"extras\['x'\]"):
        EpisodeRecord(1.0, 2, extras={"x": "high"})
