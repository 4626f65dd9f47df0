"""A report as one JSON object: run_id, mode, exit_code, summary counts and results (DESIGN section 7)."""

from __future__ import annotations

import json
from typing import Any


def render(data: dict[str, Any]) -> str:
    """Stable, indented JSON of already prepared (redacted) report data."""
    return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
