#!/bin/sh
# The main job on the bundled examples, no server needed: publish to and consume from
# OCI image layouts under a temporary folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/skillcrate-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SKILLCRATE_CACHE_DIR="$work/cache"
say() { printf '\n$ %s\n' "$*"; "$@"; }

say skillcrate validate "$here/commit-message"
say skillcrate pack "$here/commit-message"
say skillcrate versions "oci:$here/registry/hello-world"
say skillcrate inspect "oci:$here/registry/commit-message:1.2.0"
say skillcrate pull "oci:$here/registry/commit-message:1.2.0" -o "$work/pulled/commit-message"
ls -l "$work/pulled/commit-message/scripts"
