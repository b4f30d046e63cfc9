# Shared by the toolchain scripts (sourced, not run): where built tools are cached, how a script
# reports progress (stderr, never stdout, which carries the script's answer) and compares versions.
# A sourcing script sets TOOL to its own name first.

CACHE_ROOT="${MRS_IAM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-mrs-iam-sync}"

say() { printf '[%s] %s\n' "$TOOL" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$TOOL" "$*" >&2; exit 1; }

version_at_least() {  # $1 >= $2, both dotted numbers
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}
