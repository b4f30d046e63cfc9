"""Untrusted JSON, parsed within bounds: request bodies of both APIs, and the state file.

The standard parser recurses once per nesting level, so a body of a few kilobytes of ``[``
exhausts the interpreter's recursion limit; it also accepts ``NaN`` and ``Infinity``, which are
not JSON, and turns ``1e400`` into an infinite float.  :func:`parse_json` refuses all of that with
a :class:`JsonError`, and measures the nesting *before* parsing, on a skeleton of the text in
which strings are blanked out and only brackets are kept, so the check costs a few passes of
C-speed byte operations whatever the body holds.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

MAX_DEPTH: Final = 64
"""Arrays and objects nested deeper than this are refused; the emulated bodies need 3 levels."""

_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS_AND_CLOSERS: Final = bytes.maketrans(b"{}", b"[]")
_NOT_A_BRACKET: Final = bytes(sorted(set(range(256)) - set(b"[]{}")))


class JsonError(ValueError):
    """Why a text is not acceptable JSON; never echoes the input.

    ``problem`` completes a sentence about the text ("the request body " + problem); ``detail``
    is the parser's own explanation, when there is one.
    """

    def __init__(self, problem: str, detail: str | None = None) -> None:
        super().__init__(problem if detail is None else f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when ``data`` nests arrays or objects deeper than ``limit`` (or may, being unbalanced).

    Each pass deletes the innermost ``[]`` pairs of the bracket skeleton, so ``limit`` passes
    remove every pair nested at most ``limit`` deep; a pair left after them is deeper.  Brackets
    that never pair up make invalid JSON; they are counted as depth, pessimistically.
    """
    skeleton = _STRING.sub(b"", data).translate(_OPENERS_AND_CLOSERS, _NOT_A_BRACKET)
    if skeleton.count(b"[") <= limit:
        return False
    passes = 0
    while passes < limit:
        reduced = skeleton.replace(b"[]", b"")
        if len(reduced) == len(skeleton):
            break
        skeleton = reduced
        passes += 1
    if b"[]" in skeleton:
        return True
    return skeleton.count(b"[") + passes > limit


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError("is not valid JSON", "a number is too large for a double")
    return value


def _no_constants(name: str) -> Any:
    raise JsonError("is not valid JSON", f"{name} is not a JSON value")


def parse_json(data: bytes) -> Any:
    """The JSON value of the UTF-8 text ``data``; raises :class:`JsonError`."""
    if too_deep(data):
        raise JsonError(f"nests arrays or objects deeper than {MAX_DEPTH} levels")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError("is not UTF-8", f"invalid byte at offset {exc.start}") from None
    try:
        return json.loads(text, parse_float=_finite_float, parse_constant=_no_constants)
    except JsonError:
        raise
    except RecursionError:  # a backstop only: too_deep() refuses anything nested this far
        raise JsonError(f"nests arrays or objects deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise JsonError("is not valid JSON", str(exc)) from None
