"""The error text explain reads: an argument, a file or standard input, bounded, decoded, and refused with one
clear line when it is empty, binary or larger than a paste."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import IO, Any

from agent.errors import BadInput

MAX_INPUT = 10 * 1024 * 1024  # an error text, or the part of a log around it; more is not a paste
_CONTROL = set(range(0, 9)) | {11, 12} | set(range(14, 32)) | {127}


def read_input(text: str | None, file: Path | None, stdin: IO[Any], stdin_is_tty: bool) -> str:
    """The error text: the argument, --file, or standard input (`-`, or no argument when piped)."""
    if text is not None and file is not None:
        raise BadInput("give the error text or --file LOG, not both")
    if file is not None:
        try:
            with file.open("rb") as handle:  # bounded: --file /dev/zero must not fill the memory
                data = handle.read(MAX_INPUT + 1)
        except OSError as exc:
            raise BadInput(f"cannot read {file}: {exc.strerror or exc}") from None
    elif text == "-" or (text is None and not stdin_is_tty):
        data = stdin.read(MAX_INPUT + 1)
        data = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    elif text is None:
        raise BadInput("no error text: pass it as an argument, with --file LOG, or on standard input")
    else:
        data = text.encode("utf-8", "surrogateescape")
    if len(data) > MAX_INPUT:
        raise BadInput("the error text is larger than 10 MB: pass the part of the log around the error "
                       "(for example `grep -B 5 -A 20 401 LOG | agent explain -`)")
    result = decode(data)
    if not result.strip():
        raise BadInput("the error text is empty")
    if _binary(result):
        raise BadInput("the input is binary data, not an error text: pass the log as text")
    return result


def decode(data: bytes) -> str:
    """UTF-8, or UTF-16 with a byte-order mark (Windows PowerShell's `>` redirection), or a Windows code
    page: a log that is readable text gets an answer whatever its encoding."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _binary(text: str) -> bool:
    """NUL bytes, or more than one character in ten a control character: not a text anyone pasted."""
    if "\x00" in text:
        return True
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) in _CONTROL)
    return controls * 10 > len(sample)
