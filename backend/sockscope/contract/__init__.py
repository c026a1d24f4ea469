"""The wire contract: every JSON shape the server sends, defined once.

Theory of operation: events and their records are frozen dataclasses in
:mod:`sockscope.events` (the engine makes thousands a second, so they stay plain
dataclasses). Everything else on the wire is declared here, as TypedDicts where the
code builds a dict, so mypy checks the builder against the shape:

- :mod:`.lab`: what a lab reports besides its events (its snapshot, a link, the private
  network, the ``error`` of an answer). Standard library and typing_extensions only:
  the engine imports it.
- :mod:`.api`: what the API wraps around them (answers, the error body, websocket
  messages, the events page, the server's description).
- :mod:`.lessons`: lessons as the lesson routes send them.
- :mod:`.schema`: one JSON Schema of all of it (``python -m sockscope.contract``), the
  source of the front end's types (``make types``); the only module here that needs pydantic.

A field typed with an event dataclass holds that dataclass's wire form
(:func:`sockscope.events.to_wire`). None of these modules is imported for its side
effects, and this package module imports nothing, so the engine importing :mod:`.lab`
pulls in nothing else.
"""
