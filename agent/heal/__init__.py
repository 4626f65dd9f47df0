"""Unattended runs: the heal policy, its approvals, notifications, metrics and JSON logs."""
