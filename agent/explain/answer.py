"""explain's answer, for people (`render_text`) and for `-o json` (`explanation_data`)."""

from __future__ import annotations

import textwrap
from typing import Any

from agent.explain.rank import Explanation, Match

__all__ = ["explanation_data", "render_text"]


def explanation_data(explanation: Explanation) -> dict[str, Any]:
    """`{"causes": [{"id", "confidence", "evidence", ...}]}` best first, plus `more`, `next`, `other`,
    `rule_out` and `also` when set."""
    data: dict[str, Any] = {"causes": [
        {"id": m.id, "confidence": m.confidence, "strong": m.strong, "evidence": m.evidence,
         "against": m.against, "sources": m.sources, "title": m.entry.title, "advice": m.entry.advice,
         "next": f"agent diagnose --only {m.id}"} for m in explanation.causes]}
    if explanation.more:
        data["more"] = explanation.more
    if explanation.next:
        data["next"] = explanation.next
    if explanation.other is not None:
        data["other"] = _unrelated_data(explanation.other)
    if explanation.rule_out:
        data["rule_out"] = [{"id": m.id, "title": m.entry.title, "evidence": m.evidence, "sources": m.sources,
                             "next": f"agent diagnose --only {m.id}"} for m in explanation.rule_out]
    if explanation.also is not None:
        # `reading`: the deciding signal's source names it (not a signal of its own in the text)
        data["also"] = {**_unrelated_data(explanation.also), "reading": explanation.reading}
    return data


def _unrelated_data(match: Match) -> dict[str, Any]:
    entry = match.entry
    return {"kind": entry.id, "title": entry.title, "explanation": entry.advice, "evidence": match.evidence,
            "sources": match.sources}


def render_text(explanation: Explanation) -> str:
    """For people: the causes with evidence and what to run, the best one's advice in full."""
    if explanation.other is not None:
        other = explanation.other
        text = (f"Not a connector cause: {other.entry.title}.\n"
                f"  evidence: {'; '.join(other.evidence)}\n\n{other.entry.advice.rstrip()}\n")
        return text + _rule_out_text(explanation)
    if not explanation.causes:
        return ("No known cause matches this text.\n"
                "Run `agent diagnose` to probe every cause against the connectors.\n")
    lines = []
    weak = not any(m.strong for m in explanation.causes)
    if weak:
        lines += ["Only generic signals (a bare status, its words, the service or what the text speaks of): "
                  "any of these causes fits; `agent diagnose` tells.", ""]
    for rank, m in enumerate(explanation.causes, 1):
        label = "" if weak or m.strong else ", weak: also possible"  # an alternative after a candidate
        lines += [f"{rank}. {m.id} (confidence {m.confidence:.2f}{label}): {m.entry.title}",
                  f"   evidence: {'; '.join(m.evidence)}"]
        if m.against:
            lines.append(f"   against: {'; '.join(m.against)}")
    if explanation.more:
        lines.append(f"... and {explanation.more} more causes fit these signals as weakly.")
    if explanation.also is not None:
        also = explanation.also
        said = " ".join(also.entry.advice.split())
        heading = "Also possible" if explanation.reading else "Also in the text"
        lines += ["", f"{heading}, not a connector cause: {also.entry.title}",
                  f"   evidence: {'; '.join(also.evidence)}",
                  "   It may be the real failure rather than the causes above:",
                  *textwrap.wrap(said, 100, initial_indent="   ", subsequent_indent="   ")]
    command = explanation.next[0]
    single = command.startswith("agent diagnose --only ") and "," not in command
    lines += ["", f"Next, to {'confirm it' if single else 'tell them apart'} on the tenant: {command}"]
    best = explanation.causes[0]
    if not weak:
        advice = ["  " + line for line in best.entry.advice.rstrip().splitlines()]
        lines += ["", f"Advice for {best.id}:", *advice]
    return "\n".join(lines) + "\n"


def _rule_out_text(explanation: Explanation) -> str:
    """Beside an unrelated answer: the causes its source names too, and the command that rules them out."""
    if not explanation.rule_out:
        return ""
    many = len(explanation.rule_out) > 1
    what, them = ("connector causes", "them") if many else ("a connector cause", "it")
    lines = ["", f"The source of this signal also names {what}; to rule {them} out on the tenant:"]
    lines += [f"  - {m.id}: {m.entry.title} ({'; '.join(m.evidence)})" for m in explanation.rule_out]
    return "\n".join([*lines, "", f"Next: {explanation.next[0]}"]) + "\n"
