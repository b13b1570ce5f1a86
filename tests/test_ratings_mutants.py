"""Elo ratings (core/ratings.py), checked by hand-computed numbers."""

import math

import pytest

from ecs_rl.core.ratings import INITIAL_RATING, K_FACTOR, Rating, elo_update, expected_score, play


def test_expected_score_follows_the_elo_curve():
    assert expected_score(1200, 1200) == 0.5
    assert expected_score(1600, 1200) == pytest.approx(1 / (1 + 10 ** -1))  # 400 points: 10 to 1
    assert expected_score(1200, 1600) == pytest.approx(1 / 11)
    assert expected_score(1300, 1200) + expected_score(1200, 1300) == pytest.approx(1.0)


def test_a_win_moves_both_ratings_by_k_times_the_surprise():
    assert (INITIAL_RATING, K_FACTOR) == (1200.0, 16.0)
    assert elo_update(1200, 1200) == (1208.0, 1192.0)
    assert elo_update(1200, 1200, k=32) == (1216.0, 1184.0)
    assert elo_update(1200, 1200, draw=True) == (1200.0, 1200.0)
    up, down = elo_update(1600, 1200)  # the favourite gains little
    assert up - 1600 == pytest.approx(16 * (1 - 10 / 11)) and 1200 - down == pytest.approx(up - 1600)
    up, down = elo_update(1200, 1600, draw=True)  # a draw against a stronger player still gains
    assert up - 1200 == pytest.approx(16 * (0.5 - 1 / 11)) and down == pytest.approx(1600 - (up - 1200))


def test_play_updates_both_players_in_place_and_counts_games():
    a, b = Rating(), Rating(1300.0, 4)
    play(a, b)
    assert (a.games, b.games) == (1, 5)
    expected_a, expected_b = elo_update(1200.0, 1300.0)
    assert (a.rating, b.rating) == (expected_a, expected_b) and a.rating > 1200 and b.rating < 1300
    play(a, b, k=8, draw=True)
    assert (a.games, b.games) == (2, 6)
    assert a.to_json() == {"rating": a.rating, "games": 2}


@pytest.mark.parametrize("kwargs, message", [
    ({"rating": math.nan}, "rating must be a finite number, got nan"), ({"rating": math.inf}, "rating"),
    ({"rating": True}, "rating"), ({"rating": "1200"}, "rating"),
    ({"games": -1}, "games must be a whole number >= 0, got -1"), ({"games": True}, "games"),
    ({"games": 1.0}, "games"),
])
def test_a_bad_rating_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Rating(**kwargs)


def test_edge_ratings_are_accepted_and_stored_as_floats():
    r = Rating(0, 0)
    assert isinstance(r.rating, float) and (r.rating, r.games) == (0.0, 0)
    assert Rating(-50.5, 1).rating == -50.5
