"""Tests of agent.trust, laid out as the package is."""
