"""A stand-in for the GitHub CLI (``gh``) in the workflow-step tests: the pull request's comments in a
JSON file, every call recorded.

It answers exactly the calls the preview workflow makes: the comment lookup (``gh api --paginate
.../comments --jq <filter>``, with the one filter shape the workflow uses: author and marker), and
creating or editing a comment from a file (``-F body=@file``). Anything else exits 2, so a
changed call fails the test instead of passing unnoticed. ``$GH_STUB_DIR`` holds
``comments.json`` and ``calls.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

BOT = "github-actions[bot]"
"""The author GitHub gives the comments a workflow makes with its own token."""
LOOKUP = re.compile(
    r'^\.\[\] \| select\(\.user\.login == "(?P<author>[^"]+)" and '
    r'\(\.body \| startswith\("(?P<marker>[^"]+)"\)\)\) \| \.id$'
)


def refuse(message: str) -> int:
    print(f"gh (test stub): {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    state = Path(os.environ["GH_STUB_DIR"])
    comments_file = state / "comments.json"
    comments: list[dict[str, Any]] = json.loads(comments_file.read_text()) if comments_file.exists() else []
    call: dict[str, Any] = {"argv": argv, "token": bool(os.environ.get("GH_TOKEN"))}
    fields = [argv[index + 1] for index, arg in enumerate(argv[:-1]) if arg == "-F"]
    body = None
    for item in fields:
        if item.startswith("body=@"):
            body = Path(item.removeprefix("body=@")).read_text()
    call["body"] = body
    with open(state / "calls.jsonl", "a") as calls:
        calls.write(json.dumps(call) + "\n")
    if not call["token"]:
        return refuse("GH_TOKEN is not set")
    if argv[:1] != ["api"]:
        return refuse(f"only `gh api` is answered, not {argv}")
    rest = argv[1:]
    method = "GET"
    if "--method" in rest:
        method = rest[rest.index("--method") + 1]
    paths = [arg for arg in rest if arg.startswith("repos/")]
    if len(paths) != 1:
        return refuse(f"no single repos/ path in {argv}")
    path = paths[0]
    if method == "GET" and re.fullmatch(r"repos/[^/]+/[^/]+/issues/\d+/comments", path):
        if "--jq" not in rest:
            return refuse("the lookup has no --jq filter")
        lookup = LOOKUP.match(rest[rest.index("--jq") + 1])
        if lookup is None:
            return refuse(f"unsupported --jq filter: {rest[rest.index('--jq') + 1]!r}")
        for comment in comments:
            if comment["user"]["login"] == lookup["author"] and comment["body"].startswith(lookup["marker"]):
                print(comment["id"])
        return 0
    if body is None:
        return refuse(f"{method} {path} without -F body=@file")
    if method == "POST" and re.fullmatch(r"repos/[^/]+/[^/]+/issues/\d+/comments", path):
        comments.append({"id": 1000 + len(comments), "user": {"login": BOT}, "body": body})
    elif method == "PATCH" and (edited := re.fullmatch(r"repos/[^/]+/[^/]+/issues/comments/(\d+)", path)):
        [comment] = [item for item in comments if item["id"] == int(edited[1])]
        comment["body"] = body
    else:
        return refuse(f"{method} {path} is not answered")
    comments_file.write_text(json.dumps(comments))
    print("{}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
