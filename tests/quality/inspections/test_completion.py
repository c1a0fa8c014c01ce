"""Inspection-round completion (巡检完成率), worked by hand."""

from __future__ import annotations

from quality.inspections.completion import (
    RoundTally,
    answered_stops,
    inspection_round_completion,
    round_completion,
    skipped_stops,
)


def test_completion_worked_by_hand() -> None:
    # Round A: 5 stops, answers at stops 0, 0, 2, 4 -> 3 stops done, 1 and 3 skipped: 3/5.
    answers_a = [0, 0, 2, 4]
    assert answered_stops(5, answers_a) == 3
    assert skipped_stops(5, answers_a) == [1, 3]
    assert round_completion(5, 3) == 0.6
    # Round B: 3 stops, all done: 3/3. Round C: 2 stops, none done: 0/2.
    # Over the period: (3 + 3 + 0) / (5 + 3 + 2) = 6/10, not the mean of 0.6, 1 and 0.
    tallies = [RoundTally(5, 3), RoundTally(3, 3), RoundTally(2, 0)]
    assert inspection_round_completion(tallies) == 0.6
    assert inspection_round_completion([RoundTally(4, 1)]) == 0.25


def test_no_planned_stops_gives_no_rate() -> None:
    assert inspection_round_completion([]) is None
    assert inspection_round_completion([RoundTally(0, 0)]) is None
    assert round_completion(0, 0) == 1.0
    assert answered_stops(2, [5, -1]) == 0  # indexes outside the round count for nothing
