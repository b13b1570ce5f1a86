"""Elo ratings: who beats whom, as one number per player (self-play rates a policy and its past snapshots).

Elo, as Unity ML-Agents' ghost trainer uses it (initial rating 1200, K = 16): a player rated ``a`` is
expected to beat one rated ``b`` with probability ``1 / (1 + 10 ** ((b - a) / 400))``; after a game each
rating moves by ``K * (score - expected)`` (score 1 for a win, 0.5 for a draw, 0 for a loss), so the two
changes cancel. A few lines, no library: TrueSkill's uncertainty would only matter for ranking many
players from few games, and self-play plays thousands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INITIAL_RATING = 1200.0
K_FACTOR = 16.0


def expected_score(rating: float, opponent: float) -> float:
    """The probability that a player rated ``rating`` beats one rated ``opponent`` (a draw counts half)."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def elo_update(winner: float, loser: float, k: float = K_FACTOR, draw: bool = False) -> tuple[float, float]:
    """New ratings of ``winner`` and ``loser`` after one game (``draw``: neither won)."""
    change = k * ((0.5 if draw else 1.0) - expected_score(winner, loser))
    return winner + change, loser - change


@dataclass(slots=True)
class Rating:
    """One player's rating and the number of rated games it played."""

    rating: float = INITIAL_RATING
    games: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.rating, bool) or not isinstance(self.rating, (int, float)) \
                or not math.isfinite(self.rating):
            raise ValueError(f"rating must be a finite number, got {self.rating!r}")
        if isinstance(self.games, bool) or not isinstance(self.games, int) or self.games < 0:
            raise ValueError(f"games must be a whole number >= 0, got {self.games!r}")
        self.rating = float(self.rating)

    def to_json(self) -> dict[str, float | int]:
        return {"rating": self.rating, "games": self.games}


def play(winner: Rating, loser: Rating, k: float = K_FACTOR, draw: bool = False) -> None:
    """Update both ratings in place after one game."""
    winner.rating, loser.rating = elo_update(winner.rating, loser.rating, k, draw)
    winner.games += 1
    loser.games += 1
