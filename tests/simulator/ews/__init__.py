"""Tests of agent.simulator.ews, laid out as the package is."""
