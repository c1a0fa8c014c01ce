"""Inspection-round completion (巡检完成率): stops done / stops planned.

A stop is done when at least one of its checklist items was answered; a stop with no
answer when the round finishes was skipped. Over many rounds the rate weighs each round
by its stops (the department's "stops done / stops planned"), not each round equally.

>>> round_completion(stops=4, answered=3)
0.75
>>> inspection_round_completion([RoundTally(4, 3), RoundTally(6, 6)])
0.9
>>> inspection_round_completion([]) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RoundTally:
    stops: int
    answered: int


def answered_stops(stops: int, answered_stop_indexes: Iterable[int]) -> int:
    """How many distinct stops, of `stops`, hold an answer."""
    return len({index for index in answered_stop_indexes if 0 <= index < stops})


def skipped_stops(stops: int, answered_stop_indexes: Iterable[int]) -> list[int]:
    done = set(answered_stop_indexes)
    return [index for index in range(stops) if index not in done]


def round_completion(stops: int, answered: int) -> float:
    """One round's completion; a round of no stops has nothing left undone."""
    return 1.0 if stops == 0 else answered / stops


def inspection_round_completion(rounds: Sequence[RoundTally]) -> float | None:
    """Stops done over stops planned across rounds; None when no stop was planned."""
    planned = sum(tally.stops for tally in rounds)
    if planned == 0:
        return None
    return sum(tally.answered for tally in rounds) / planned
