"""The one check that a text is a ``pulumi preview --json`` document, made where ``plan`` loads it.

The plan is computed from the document's steps, and a step it cannot read contributes nothing:
without this check, ``{}``, an error object or a step missing its states would come out as
"no changes", the one answer a reviewer acts on without looking further. So the document is held
to the shape the plan relies on, and anything else is a one-line error (exit 1).

What is required is what the engine always writes: with ``--show-sames`` even a stack without
changes has a step (the stack resource's own ``same``), and a failed preview has diagnostics; each
step has ``op`` and ``urn``, and the states its ``op`` is about. Fields beyond these are the
engine's business and are left alone. Plain Python, not pydantic: ``plan`` does not load it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from mrs_iam_sync.cli.preview import PreviewFailed
from mrs_iam_sync.text import one_line

_NEEDS: Final[Mapping[str, tuple[str, ...]]] = {
    "create": ("newState",),
    "delete": ("oldState",),
    "update": ("oldState", "newState"),
    "replace": ("oldState", "newState"),
    "same": ("oldState", "newState"),
}
"""The states that each ``op`` the plan reads must carry; other ops (refresh, read...) are not checked."""
_STATE_PARTS: Final = ("inputs", "outputs")
_SHOWN_LIMIT: Final = 200


def load_preview(text: str, *, where: str) -> Mapping[str, Any]:
    """The document in ``text``, once it is known to be a ``pulumi preview --json`` output.

    ``where`` names the text's origin (a file, the preview that was run) in the error.
    """
    refused = f"{where} is not the JSON of `pulumi preview --json`"
    try:
        document = json.loads(text)
    except ValueError:
        raise PreviewFailed(refused) from None
    if not isinstance(document, dict):
        raise PreviewFailed(f"{refused}: it is not an object")
    problem = _document_problem(document)
    if problem is not None:
        raise PreviewFailed(f"{refused}: {problem}")
    checked: Mapping[str, Any] = document
    return checked


def _document_problem(document: Mapping[str, Any]) -> str | None:
    steps, diagnostics = document.get("steps", []), document.get("diagnostics", [])
    for key, value in (("steps", steps), ("diagnostics", diagnostics)):
        if not isinstance(value, list):
            return f"{key}: must be a list"
    if not steps and not diagnostics:
        error = document.get("error")
        if error is not None:
            return f"it holds an error instead: {one_line(str(error), _SHOWN_LIMIT)}"
        return "it holds neither steps nor diagnostics"
    for index, step in enumerate(steps):
        problem = _step_problem(step)
        if problem is not None:
            return f"steps[{index}]{problem}"
    for index, diagnostic in enumerate(diagnostics):
        if not isinstance(diagnostic, dict):
            return f"diagnostics[{index}]: must be an object"
        if not isinstance(diagnostic.get("urn", ""), str):
            return f"diagnostics[{index}].urn: must be a string"
    return None


def _step_problem(step: object) -> str | None:
    """What is wrong with one step, written to follow its index (``.urn: ...``, ``: ...``)."""
    if not isinstance(step, dict):
        return ": must be an object"
    for key in ("op", "urn"):
        if key not in step:
            return f".{key}: is missing"
        if not isinstance(step[key], str):
            return f".{key}: must be a string"
    for key in ("oldState", "newState"):
        state = step.get(key)
        if state is None:
            continue
        if not isinstance(state, dict):
            return f".{key}: must be an object"
        for part in _STATE_PARTS:
            if state.get(part) is not None and not isinstance(state[part], dict):
                return f".{key}.{part}: must be an object"
    missing = [key for key in _NEEDS.get(step["op"], ()) if not step.get(key)]
    if missing:
        return f": op {step['op']!r} needs {' and '.join(missing)}"
    reasons = step.get("replaceReasons")
    if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
        return ".replaceReasons: must be a list of strings"
    return None
