"""Playbooks: loading, schema, relations between causes, and the permissions they need."""
