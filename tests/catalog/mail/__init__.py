"""Tests of agent.catalog.mail, laid out as the package is."""
