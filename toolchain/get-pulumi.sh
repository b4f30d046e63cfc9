#!/usr/bin/env bash
# Puts the Pulumi CLI, its Python language host (with pulumi-language-python-exec)
# and the dynamic-provider launcher pulumi-resource-pulumi-python into one
# directory, and prints that directory on stdout; progress goes to stderr.
#
# Sources, in order: a new-enough `pulumi` already on PATH (with a language host
# beside it); the official installer, where its site is reachable; a build from
# the Go module proxy. The result is cached outside the checkout, keyed by
# version, so later runs and CI reuse it.
#
# The official Python language host cannot come from the Go module proxy at all:
# its go.mod replaces github.com/pulumi/pulumi/pkg/v3 with a relative path, so it
# was never installable as a module, from any mirror. A build from the proxy
# therefore gets toolchain/pulumi_language_python.py, a stand-in that runs
# programs (and policy packs) through Pulumi's own Python entry points, in its
# place, and says so. The stand-in needs grpc and Pulumi's generated stubs, which
# a project's interpreter need not have: it runs under a virtualenv of its own.
# The CLI, that virtualenv and the host's wrapper go into a directory of their
# own, keyed by a hash of the host, its wrapper and the constraints its
# virtualenv is installed with, so that a change to any of them builds a new one
# and checkouts of different revisions never overwrite each other's.
set -euo pipefail

PULUMI_VERSION="${PULUMI_VERSION:-3.274.1}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOL=get-pulumi
# shellcheck source=lib.sh
. "$HERE/lib.sh"
TARGET="$CACHE_ROOT/pulumi-v$PULUMI_VERSION"
BIN="$TARGET/bin"
WORK="$TARGET/build"
REQUIRED=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)
HOST_SOURCE="$HERE/pulumi_language_python.py"
CONSTRAINTS="$HERE/../constraints.txt"
# What the stand-in imports (grpc, google.protobuf, pulumi.runtime.proto): pulumi brings the other two.
STANDIN_REQUIREMENTS=(pulumi)
OLD_STANDIN_MARK="$TARGET/standin-langhost"  # written by earlier versions of this script into $BIN
GO_MODULE_SDK="github.com/pulumi/pulumi/sdk/v3"
GO_MODULE_PKG="github.com/pulumi/pulumi/pkg/v3"

complete_in() {  # every required program exists in directory $1
  local dir="$1" name
  for name in "${REQUIRED[@]}"; do [ -x "$dir/$name" ] || return 1; done
}

from_path() {
  local found dir ver
  found="$(command -v pulumi 2>/dev/null)" || return 1
  dir="$(dirname "$(readlink -f "$found")")"
  case "$dir" in "$TARGET"/*) return 1 ;; esac  # this script's own cache
  ver="$(PULUMI_SKIP_UPDATE_CHECK=true "$found" version 2>/dev/null | sed 's/^v//')" || return 1
  version_at_least "$ver" "$PULUMI_VERSION" || { say "pulumi $ver on PATH is older than $PULUMI_VERSION; not using it"; return 1; }
  complete_in "$dir" || { say "pulumi $ver on PATH has no Python language host beside it; not using it"; return 1; }
  say "using pulumi $ver from $dir"
  echo "$dir"
}

from_installer() {
  command -v curl >/dev/null 2>&1 || return 1
  curl -fsS --max-time 5 -o /dev/null https://get.pulumi.com/ 2>/dev/null || { say "official installer unreachable; building from the Go module proxy instead"; return 1; }
  say "installing pulumi $PULUMI_VERSION with the official installer"
  local tmp; tmp="$(mktemp -d)"
  curl -fsSL https://get.pulumi.com/ | sh -s -- --version "$PULUMI_VERSION" --install-root "$tmp" --no-edit-path >&2 || { rm -rf "$tmp"; return 1; }
  mkdir -p "$BIN"
  cp -a "$tmp/bin/." "$BIN/"
  rm -rf "$tmp"
  complete_in "$BIN"
}

go_env() {
  command -v go >/dev/null 2>&1 || die "no pulumi >= $PULUMI_VERSION on PATH, the official installer is unreachable, and 'go' is not installed to build it. Install Go 1.25 or newer, or the Pulumi CLI."
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS=-mod=mod
  mkdir -p "$WORK" "$BIN"
}

write_build_module() {
  cat >"$WORK/go.mod" <<GOMOD
module mrs-iam-sync/pulumi-toolchain

go 1.25

require (
	$GO_MODULE_PKG v$PULUMI_VERSION
	$GO_MODULE_SDK v$PULUMI_VERSION
)

// Repeated from pulumi's own pkg/go.mod: replace directives of dependencies are ignored.
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
GOMOD
  cat >"$WORK/tools.go" <<'GOSRC'
//go:build tools

// Package tools pins the programs this module exists to build.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GOSRC
}

build_cli() {
  [ -x "$BIN/pulumi" ] && return 0
  say "building pulumi $PULUMI_VERSION from the Go module proxy (first time only; several minutes)"
  write_build_module
  ( cd "$WORK"
    say "go mod tidy: downloading the module graph"
    go mod tidy >&2 || die "could not download $GO_MODULE_PKG@v$PULUMI_VERSION and its dependencies from the Go module proxy (is it reachable? GOPROXY=$(go env GOPROXY))"
    say "go build: pulumi (compiling ~2000 packages)"
    go build -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      -o "$BIN/pulumi.tmp" "$GO_MODULE_PKG/cmd/pulumi" >&2 || die "go build of pulumi failed (see above)"
    mv "$BIN/pulumi.tmp" "$BIN/pulumi" )
}

sdk_module_dir() {
  ( cd "$WORK" && go mod download "$GO_MODULE_SDK@v$PULUMI_VERSION" >&2 && go list -m -f '{{.Dir}}' "$GO_MODULE_SDK" )
}

install_helper_scripts() {
  local sdk_dir; sdk_dir="$(sdk_module_dir)" || die "the $GO_MODULE_SDK module is not in the Go module cache"
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
  install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
}

standin_wrapper() {  # the pulumi-language-python that runs the stand-in with the virtualenv beside it
  cat <<WRAPPER
#!/bin/sh
# Stand-in for the official pulumi-language-python; see pulumi_language_python.py.
# It runs under its own virtualenv (../venv), whatever the project's interpreter is.
here="\$(dirname "\$0")"
exec "\$here/../venv/bin/python" -u "\$here/pulumi_language_python.py" --version "$PULUMI_VERSION" "\$@"
WRAPPER
}

standin_key() {  # changes whenever the host, its wrapper or the versions its virtualenv gets change
  { cat "$HOST_SOURCE" "$CONSTRAINTS"; standin_wrapper; printf '%s\n' "${STANDIN_REQUIREMENTS[@]}"; } \
    | sha256sum | cut -c1-12
}

link_cli() {  # $1: the directory with the CLI and Pulumi's Python scripts; $2: where to link them
  local name
  # A hard link (or a copy), not a symlink: the CLI looks for bundled plugins next to its resolved path.
  ln -f "$1/pulumi" "$2/pulumi" 2>/dev/null || cp "$1/pulumi" "$2/pulumi"
  for name in pulumi-language-python-exec pulumi-resource-pulumi-python; do ln -sf "$1/$name" "$2/$name"; done
}

build_standin() {  # $1: the directory to create
  local dir="$1"
  mkdir -p "$dir/bin"
  python3 -m venv "$dir/venv" >&2 || die "python3 -m venv failed; the stand-in language host needs Python 3.11 or newer with venv"
  "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$CONSTRAINTS" \
    "${STANDIN_REQUIREMENTS[@]}" >&2 || die "could not install ${STANDIN_REQUIREMENTS[*]} into the stand-in's virtualenv (is PyPI reachable?)"
  install -m 0644 "$HOST_SOURCE" "$dir/bin/pulumi_language_python.py"
  standin_wrapper >"$dir/bin/pulumi-language-python"
  chmod 0755 "$dir/bin/pulumi-language-python"
  link_cli "$BIN" "$dir/bin"
}

with_standin() {  # prints the directory of the CLI with the stand-in host, building it once per key
  local dir; dir="$TARGET/standin-$(standin_key)"
  if ! complete_in "$dir/bin"; then
    # Built aside and renamed into place, so that concurrent runs never see half a directory.
    local tmp="$TARGET/.standin-build.$$"
    say "installing the stand-in Python language host (toolchain/pulumi_language_python.py) in $dir"
    rm -rf "$tmp"
    build_standin "$tmp"
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"  # another run finished first: use its copy
    complete_in "$dir/bin" || die "the stand-in language host in $dir is incomplete"
  fi
  echo "$dir/bin"
}

official_host_in() {  # $1 holds the CLI with an official language host (not an earlier script's stand-in)
  complete_in "$1" && ! { [ "$1" = "$BIN" ] && [ -f "$OLD_STANDIN_MARK" ]; }
}

cli_built_in() {  # $1 holds a CLI built from the Go module proxy, with Pulumi's Python scripts
  local name
  for name in pulumi pulumi-language-python-exec pulumi-resource-pulumi-python; do [ -x "$1/$name" ] || return 1; done
}

from_go_proxy() {
  go_env
  build_cli
  install_helper_scripts
  cli_built_in "$BIN" || die "build finished but $BIN is incomplete"
}

main() {
  if official_host_in "$BIN"; then echo "$BIN"; return; fi
  if cli_built_in "$BIN"; then with_standin; return; fi
  if [ "${MRS_IAM_SYNC_IGNORE_PATH_PULUMI:-}" != "1" ]; then
    local dir; if dir="$(from_path)"; then echo "$dir"; return; fi
  fi
  if from_installer; then echo "$BIN"; return; fi
  from_go_proxy
  say "pulumi $("$BIN/pulumi" version) built in $BIN"
  with_standin
}

main "$@"
