"""Join codes, names, and the join rate (pure)."""

from __future__ import annotations

from sockscope.room import joins
from sockscope.room.joins import (
    CODE_ALPHABET,
    CODE_LENGTH,
    JoinLimiter,
    clean_name,
    code_matches,
    free_name,
    new_code,
)


def test_codes_use_only_unambiguous_characters() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) > 190
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("01OIL") & set(CODE_ALPHABET)


def test_a_code_matches_however_it_is_typed() -> None:
    assert code_matches("abc-234", "ABC234")
    assert code_matches(" ABC 234 ", "ABC234")
    assert not code_matches("ABC235", "ABC234")
    assert not code_matches("", "ABC234")


def test_names_are_cleaned_and_made_unique() -> None:
    assert clean_name("  Ada\n\x00 Lovelace ") == "Ada Lovelace"
    assert len(clean_name("x" * 500)) == 40
    assert free_name("Ada", {"Ada", "Ada 2"}, 3) == "Ada 3"
    assert free_name("", set(), 7) == "Participant 7"


def test_the_limiter_counts_attempts_per_address_within_a_minute() -> None:
    limiter = JoinLimiter(per_minute=2)
    assert limiter.wait_for("a", 0.0) == 0
    assert limiter.wait_for("a", 1.0) == 0
    assert limiter.wait_for("a", 2.0) == 58.0
    assert limiter.wait_for("b", 2.0) == 0  # another address
    assert limiter.wait_for("a", 60.5) == 0  # the first attempt left the window


def test_refusals_are_counted_per_address_and_forgotten_after_ten_minutes() -> None:
    refusals = joins.Refusals()
    refusals.note("10.0.0.9", "per_minute", 100.0)
    refusals.note("10.0.0.9", "per_client", 130.0)
    refusals.note("10.0.0.7", "per_client", 131.0)
    assert refusals.recent(140.0) == [
        ("10.0.0.9", 2, "per_client", 10.0),
        ("10.0.0.7", 1, "per_client", 9.0),
    ]
    assert refusals.recent(130.0 + joins.REFUSALS_KEPT) == [
        ("10.0.0.7", 1, "per_client", joins.REFUSALS_KEPT - 1)
    ]
    refusals.note("10.0.0.9", "per_minute", 130.0 + joins.REFUSALS_KEPT)  # a new run of them
    again = {r[0]: r[1:3] for r in refusals.recent(130.0 + joins.REFUSALS_KEPT)}
    assert again["10.0.0.9"] == (1, "per_minute")
    refusals.forget()
    assert refusals.recent(1000.0) == []
