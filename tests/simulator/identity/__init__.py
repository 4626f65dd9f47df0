"""Tests of agent.simulator.identity, laid out as the package is."""
