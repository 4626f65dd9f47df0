"""Tests of agent.catalog.shared, laid out as the package is."""
