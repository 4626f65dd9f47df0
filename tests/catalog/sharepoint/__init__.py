"""Tests of agent.catalog.sharepoint, laid out as the package is."""
