"""Tests of agent.simulator.sharepoint, laid out as the package is."""
