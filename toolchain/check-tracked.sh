#!/usr/bin/env bash
# Fails when git tracks anything that a machine generates: virtualenvs, work directories, caches,
# build metadata. Such files point at one machine's paths, flood every diff and search, and a fresh
# clone starts broken with them. Usage: check-tracked.sh [REPO_DIR] (default: the current directory).
set -euo pipefail
cd "${1:-.}"
tracked="$(git ls-files -- '.venv' '.venv/**' '.work' '.work/**' '*__pycache__*' '*.egg-info' '*.egg-info/**' '*.pyc')"
if [ -n "$tracked" ]; then
  count="$(printf '%s\n' "$tracked" | wc -l)"
  printf 'check-tracked: %s generated file(s) are tracked by git; untrack them with `git rm -r --cached <path>`:\n' "$count" >&2
  printf '%s\n' "$tracked" | head -n 10 | sed 's/^/  /' >&2
  exit 1
fi
