"""Tests of agent.config, laid out as the package is."""
