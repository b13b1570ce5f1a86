"""The ECS runner helpers and evaluation seeds, checked by their numbers."""

import esper
import pytest

from ecs_rl.ecs import Evaluation, step_world
from ecs_rl.ecs.runner import FixedStep


class Count(esper.Processor):
    def __init__(self):
        self.ticks = 0

    def process(self, *args, **kwargs):
        self.ticks += 1


def test_step_world_returns_the_ticks_it_ran_for_each_way_of_stopping(world):
    counter = Count()
    esper.add_processor(counter)
    assert step_world(3) == 3 and counter.ticks == 3
    assert step_world(lambda: counter.ticks >= 5) == 2
    assert step_world(10, max_ticks=4) == 4 and counter.ticks == 9
    assert step_world(0) == 0
    with pytest.raises(ValueError, match="needs until=, plugin= or max_ticks="):
        step_world()


def test_fixed_step_turns_frame_time_into_whole_ticks_and_drops_a_backlog():
    clock = FixedStep(rate_hz=10.0, max_ticks_per_frame=5)
    assert clock.dt == pytest.approx(0.1)
    assert clock.advance(0.25) == 2  # 0.05 s carried over
    assert clock.advance(0.05) == 1
    assert clock.advance(-1.0) == 0  # a clock going back adds nothing
    assert clock.advance(0.1, speed=3.0) == 3
    assert clock.advance(10.0) == 5 and clock.advance(0.0) == 0  # clipped, and the rest dropped
    with pytest.raises(ValueError, match="rate_hz must be > 0, got 0"):
        FixedStep(rate_hz=0)


def test_each_evaluation_gets_its_own_block_of_whole_seeds():
    ev = Evaluation(lambda n, seed: None, every=100, episodes=3, seed=50)
    assert [ev.seed_at(s) for s in (0, 99, 100, 250)] == [50, 50, 53, 56]
    assert isinstance(ev.seed_at(250), int) and ev.mode == "episodes"
    assert Evaluation(lambda n, seed: None, ticks=5).mode == "ticks"


@pytest.mark.parametrize("kwargs, message", [
    ({"every": 0}, "every, .episodes and .max_ticks must be >= 1, got 0, 20, 10000"),
    ({"episodes": 0}, "got 10000, 0, 10000"), ({"max_ticks": 0}, "got 10000, 20, 0"),
    ({"ticks": 0}, r"Evaluation.ticks must be an integer >= 1 \(or None\), got 0"),
    ({"ticks": True}, "ticks"), ({"ticks": 2.5}, "ticks"),
])
def test_a_bad_evaluation_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Evaluation(lambda n, seed: None, **kwargs)


def test_edge_evaluations_are_accepted():
    ev = Evaluation(lambda n, seed: None, every=1, episodes=1, max_ticks=1, ticks=1)
    assert ev.seed_at(7) == 10_007
