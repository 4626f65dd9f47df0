"""Tests for agent.errors: the hierarchy and how problems render."""

from __future__ import annotations

from agent.errors import AgentError, BadInput, ConfigError, PlaybookError, Problem, SecretError


def test_hierarchy_maps_to_bad_input() -> None:
    assert issubclass(ConfigError, BadInput) and issubclass(PlaybookError, BadInput)
    assert issubclass(SecretError, ConfigError) and issubclass(BadInput, AgentError)


def test_problem_renders_file_line_message() -> None:
    assert str(Problem("a.yaml", 3, "bad")) == "a.yaml:3: bad"
    assert str(Problem("a.yaml", None, "gone")) == "a.yaml: gone"


def test_playbook_error_sorts_and_keeps_every_problem() -> None:
    error = PlaybookError(
        [Problem("b.yaml", 2, "x"), Problem("a.yaml", 9, "y"), Problem("a.yaml", None, "z")]
    )
    assert error.lines() == ["a.yaml: z", "a.yaml:9: y", "b.yaml:2: x"]
    assert str(error) == "a.yaml: z\na.yaml:9: y\nb.yaml:2: x"


def test_secret_error_names_the_reference() -> None:
    error = SecretError("env:MIGSVC_PASSWORD", "environment variable MIGSVC_PASSWORD is not set")
    assert str(error) == "secret env:MIGSVC_PASSWORD: environment variable MIGSVC_PASSWORD is not set"
    assert error.ref == "env:MIGSVC_PASSWORD"
