"""Tests of agent.playbook, laid out as the package is."""
