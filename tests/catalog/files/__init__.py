"""Tests of agent.catalog.files, laid out as the package is."""
