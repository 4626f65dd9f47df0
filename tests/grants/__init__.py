"""Tests of agent.grants, laid out as the package is."""
