"""What the provider process can learn of the engine's call it is serving.

The SDK hands a dynamic provider's methods no URN, but the servicer method that called them
(``pulumi/dynamic/__main__.py``) holds the gRPC request, whose ``urn`` names the resource, its
stack and its project. It is read from the calling thread's frames, so nothing of Pulumi's is
patched; outside that server (tests calling the provider directly) there is none.
"""

from __future__ import annotations

import sys
from pathlib import PurePath
from typing import Final

_SERVER_FILE: Final = ("pulumi", "dynamic", "__main__.py")


def current_urn() -> str | None:
    """The URN of the engine call running on this thread, if it came through Pulumi's dynamic server."""
    frame = sys._getframe(1)
    while frame is not None:
        if PurePath(frame.f_code.co_filename).parts[-3:] == _SERVER_FILE:
            urn = getattr(frame.f_locals.get("request"), "urn", None)
            if isinstance(urn, str) and urn:
                return urn
        frame = frame.f_back  # type: ignore[assignment]
    return None
