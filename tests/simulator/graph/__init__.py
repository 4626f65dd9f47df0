"""Tests of agent.simulator.graph, laid out as the package is."""
