"""Tests of agent.explain, laid out as the package is."""
