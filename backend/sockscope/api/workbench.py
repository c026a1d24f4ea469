"""Workbenches: the pure framing and byte-order tools, for a participant to play with.

No socket is involved: the lessons send the same bytes through real connections. What they
take and answer is defined in the contract (``contract/requests.py``, ``contract/workbench.py``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request

from sockscope.api.access import client_of
from sockscope.api.quotas import ShapesGate
from sockscope.api.wire import error_responses
from sockscope.contract.requests import FramingRequest, ShapesRequest
from sockscope.contract.workbench import ByteOrderAnswer, FramingAnswer, ShapeReport
from sockscope.engine.core.errors import InvalidCommand
from sockscope.workbench import byteorder, framing, shapes

router = APIRouter(prefix="/api/workbench", tags=["workbench"])


def _strategy(request: FramingRequest) -> framing.Strategy:
    match request.strategy:
        case "fixed":
            return framing.FixedLength(request.size)
        case "delimited":
            return framing.Delimited(b"\n")
        case "text_prefix":
            return framing.LengthPrefixText(5)
        case "binary_prefix":
            return framing.LengthPrefixBinary("!I")
        case "shutdown":
            return framing.ShutdownTerminated()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")  # a cut may split a character: shown as �


@router.post("/framing")
async def framing_bench(request: FramingRequest) -> FramingAnswer:
    """Frame the messages, cut the stream as recv() might, decode it naively and properly."""
    messages = [m.encode() for m in request.messages]
    if sum(len(m) for m in messages) > 4096:
        raise InvalidCommand("messages", "messages: at most 4096 bytes in all, for a workbench")
    if request.strategy == "fixed":
        if any(len(m) > request.size for m in messages):
            raise InvalidCommand(
                "messages", f"messages: fixed-length messages are at most {request.size} bytes"
            )
        messages = [m.ljust(request.size) for m in messages]
    if request.strategy == "shutdown":
        messages = [b" ".join(messages)]
    strategy = _strategy(request)
    try:
        wire = framing.frames(strategy, messages)
    except ValueError as exc:
        raise InvalidCommand("messages", f"messages: {exc}") from None
    stream = b"".join(wire)
    if request.slice:
        chunks = framing.slice_stream(
            stream, list(range(request.slice, len(stream), request.slice))
        )
    else:
        chunks = [stream]  # everything sent back to back, read at once: the usual "glue"
    decoder = framing.decoder_for(strategy)
    framed: list[bytes] = []
    for chunk in chunks:
        framed += decoder.feed(chunk)
    if request.strategy == "shutdown":
        framed += decoder.eof()
    naive = framing.naive_receive(chunks)
    return {
        "stream": _text(stream),
        "stream_hex": stream.hex(" "),
        "messages": [_text(m) for m in messages],
        "wire": [_text(w) for w in wire],
        "chunks": [_text(c) for c in chunks],
        "naive": [_text(m) for m in naive],
        "framed": [_text(m) for m in framed],
        "naive_verdict": framing.compare(wire, naive),
        "framed_verdict": framing.compare(messages, framed),
        "naive_ok": naive == wire,
        "framed_ok": framed == messages,
    }


@router.post("/shapes", responses=error_responses(429, 503))
async def shapes_bench(request: Request, body: ShapesRequest) -> list[ShapeReport]:
    """Serve N slow clients with a threaded, a forking and a select() server; compare.
    Two run at once in the server, one per client address (429 or 503 says which)."""
    config = shapes.ShapesConfig(clients=body.clients, think_ms=body.think_ms)
    gate: ShapesGate = request.app.state.shapes_gate
    async with gate.slot(client_of(request)):
        results = await asyncio.to_thread(shapes.compare, config)
    return [shapes.report(r) for r in results]


@router.get("/byteorder")
async def byteorder_bench(
    value: Annotated[int, Query(ge=0, le=2**64 - 1)] = 1,
    fmt: Annotated[str, Query(max_length=4)] = "!I",
) -> ByteOrderAnswer:
    """The bytes ``struct.pack(fmt, value)`` puts on the wire, read back in both orders."""
    try:
        wire = byteorder.encode_value(value, fmt)
    except ValueError as exc:
        raise InvalidCommand("fmt" if "format" in str(exc) else "value", str(exc)) from None
    both = byteorder.decode_both(wire, fmt)
    return {
        "value": value,
        "fmt": fmt,
        "wire": byteorder.hexdump(wire),
        "meaning": both["meaning"],
        "right": both["value"],
        "opposite_fmt": both["opposite_fmt"],
        "wrong": both["opposite_value"],
        "host_order": both["host_order"],
        "network": byteorder.network_equivalents(value) if value < 2**32 else None,
        "text_vs_binary": byteorder.text_vs_binary(value, fmt),
    }
