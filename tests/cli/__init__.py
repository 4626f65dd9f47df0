"""Tests of agent.cli, laid out as the package is."""
