"""What a client sends the workbenches (``api/workbench.py``): pydantic models, their limits
included, read in validation mode (the schema says what the server accepts).

A lab's commands are defined where the engine checks them (``engine/core/commands.py``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sockscope.contract.workbench import MAX_CLIENTS, StrategyName


class FramingRequest(BaseModel):
    """POST /api/workbench/framing: messages to frame one way, and where recv() cuts them."""

    model_config = ConfigDict(extra="forbid")

    strategy: StrategyName = "delimited"
    messages: list[str] = Field(default=["hello", "framed", "world"], min_length=1, max_length=20)
    slice: int = Field(
        default=0,
        ge=0,
        le=4096,
        description="cut the stream every N bytes; 0: one send per message",
    )
    size: int = Field(default=8, ge=1, le=1024, description="fixed-length messages: their size")


class ShapesRequest(BaseModel):
    """POST /api/workbench/shapes: how many slow clients, and how long each thinks."""

    model_config = ConfigDict(extra="forbid")

    clients: int = Field(default=8, ge=1, le=MAX_CLIENTS)
    think_ms: int = Field(default=300, ge=0, le=2000)
