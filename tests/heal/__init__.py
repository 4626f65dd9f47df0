"""Tests of agent.heal, laid out as the package is."""
