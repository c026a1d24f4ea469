"""What the command fuzzers share: hostile JSON commands, the properties an answer must keep.

Commands are built from the engine's own op names and field names, with values a client
could send by mistake or on purpose: lone surrogates, long strings, objects and lists
where a scalar goes, integers past any limit (and past Python's int-from-text limit), NaN
and Infinity, deep nesting. They are sent as JSON *text* (so NaN and 5,000-digit integers
reach the server as a client would spell them).

SOCKSCOPE_FUZZ_EXAMPLES sets the number of cases per fuzzer (the default keeps `make test`
well under a minute); `make fuzz` runs thousands.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from sockscope.api.wire import MAX_BODY, MESSAGE_CHARS
from sockscope.engine.core import commands as engine_commands

EXAMPLES = int(os.environ.get("SOCKSCOPE_FUZZ_EXAMPLES", "0") or 0)
BOUND = MESSAGE_CHARS + 60  # the longest error message: the cut and its note


def fuzz_settings(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,  # each case is a network round trip; the answer has its own timeout
        database=None,  # nothing written into the shared checkout
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
        # No shrinking: each try is a round trip (or a wait for an answer that never comes),
        # and the failing case is printed as found.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )


def timeout_for(default: int, per_case: float = 0.15) -> float:
    """pytest-timeout's limit for a fuzz test of ``default`` cases (or EXAMPLES)."""
    return 60 + (EXAMPLES or default) * per_case


OPS: tuple[str, ...] = tuple(engine_commands.OPS)
FIELDS: tuple[str, ...] = tuple(sorted(set().union(*engine_commands.FIELDS_BY_OP.values())))
OPTION_FIELDS: tuple[str, ...] = tuple(sorted(engine_commands.SocketOptions.model_fields))

HUGE_INT = "\x00huge-int\x00"  # replaced in the JSON text by a 5,000-digit integer
NAN = float("nan")
NESTINGS = (10, 40, 2000)

lone_surrogates = st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\ud83d", "ok\ud800"])
long_strings = st.sampled_from([1_000, 20_000, 60_000]).map(lambda n: "x" * n)
plausible = st.sampled_from(
    ["s", "srv", "cli", "conn", "127.0.0.1", "SHUT_WR", "SO_RCVBUF", "echo", "both", "", "0"]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.just(HUGE_INT),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([NAN, float("inf"), float("-inf"), -0.0, 1e308]),
    st.text(max_size=20),
    plausible,
    lone_surrogates,
)
addresses = st.tuples(st.one_of(plausible, st.text(max_size=8)), st.integers(-5, 70_000)).map(list)
values = st.recursive(
    st.one_of(scalars, addresses),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(OPTION_FIELDS or FIELDS), st.text(max_size=6)),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def nested(depth: int) -> str:
    """A placeholder :func:`to_text` spells as ``depth`` nested lists (kept out of Python
    objects: hypothesis could not print one)."""
    return f"\x00nest:{depth}\x00"


def command_objects(big: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with a known (or hostile) op and known (or hostile) fields."""
    field_values = st.one_of(values, st.sampled_from(NESTINGS).map(nested))
    if big:
        field_values = st.one_of(field_values, long_strings)
    ops = st.one_of(st.sampled_from(OPS), values)
    keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=10), lone_surrogates)
    return st.builds(
        lambda op, fields: {"op": op, **fields},
        ops,
        st.dictionaries(keys, field_values, max_size=5),
    )


def commands(big: bool = True) -> st.SearchStrategy[Any]:
    """Mostly command objects; now and then a body that is not an object at all."""
    return st.one_of(command_objects(big), command_objects(big), command_objects(big), values)


def to_text(value: Any) -> str:
    """The JSON text a client would send (NaN as NaN, surrogates escaped, huge integers)."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=True)
    text = text.replace(json.dumps(HUGE_INT), "9" * 5000)
    for depth in NESTINGS:
        text = text.replace(json.dumps(nested(depth)), "[" * depth + "1" + "]" * depth)
    return text


def check_error(error: Any) -> None:
    assert isinstance(error, dict), error
    assert isinstance(error.get("message"), str), error
    assert len(error["message"]) <= BOUND, len(error["message"])
    field = error.get("field")
    assert field is None or (isinstance(field, str) and len(field) <= 200), field


def too_big(text: str) -> bool:
    return len(text.encode()) > MAX_BODY
