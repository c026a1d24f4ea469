"""``python -m sockscope.contract``: print the wire's JSON Schema (see :mod:`.schema`)."""

from __future__ import annotations

import json
import sys

from sockscope.contract.schema import wire_schema

sys.stdout.write(json.dumps(wire_schema(), indent=2, ensure_ascii=False) + "\n")
