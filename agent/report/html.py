"""A report as one self-contained HTML file (jinja2, inline CSS, no script, no external asset)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from agent.report.data import GOOD, by_connector

TEMPLATE = "report.html.j2"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("agent.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["pretty"] = _pretty
    return env


def _pretty(value: Any) -> str:
    """Indented JSON for evidence, before and after (escaped by the template)."""
    if value is None:
        return "-"
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def render(data: dict[str, Any]) -> str:
    """The page: summary counts at the top, a results table, then one section per connector."""
    template = _environment().get_template(TEMPLATE)
    text: str = template.render(data=data, groups=by_connector(data.get("results", [])), good=GOOD,
                                extras={k: data[k] for k in ("pending", "notifications") if data.get(k)})
    return text
