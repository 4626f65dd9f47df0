"""Tests of agent.simulator.scenarios, laid out as the package is."""
