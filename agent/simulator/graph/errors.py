"""The Graph OData error raised by handlers and rendered by the Graph front end."""

from __future__ import annotations


class GraphError(Exception):
    """A failure rendered as a Graph OData error."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied",
                      "Insufficient privileges to complete the operation.")
