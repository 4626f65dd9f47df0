"""The connector kinds, shared by the config and the playbooks (a leaf module: explain loads it cheaply)."""

from __future__ import annotations

from typing import Literal, get_args

ConnectorKind = Literal["exchange-online", "exchange-onprem", "onedrive", "sharepoint"]
CONNECTOR_KINDS: tuple[str, ...] = get_args(ConnectorKind)

# What a symptom or a clue can match in an error text (agent.playbook.schema, agent.explain).
MATCH_KINDS = ("code", "text", "pattern", "status", "header", "exception")
# The services an error text can name (agent.explain.signals reads them from hosts, paths and vocabulary).
ServiceName = Literal["identity", "graph", "ews", "mail", "sharepoint", "onedrive", "adfs"]
