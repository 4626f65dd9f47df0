"""Tests of agent.engine, laid out as the package is."""
