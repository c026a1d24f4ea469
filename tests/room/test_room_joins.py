"""Join codes, names, and the join rate (pure)."""

from __future__ import annotations

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
