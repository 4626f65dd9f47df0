"""Tests of agent.journal, laid out as the package is."""
