#!/bin/sh
# The main job on the bundled examples, no server needed: a project declares skills
# from the OCI image layouts in examples/registry/, installs them, and is registered
# so every Claude Code session starts with `skillcrate install`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/skillcrate-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SKILLCRATE_CACHE_DIR="$work/cache"
mkdir -p "$work/project/vendor"
cp -R "$here/registry" "$work/project/vendor/registry"
cd "$work/project"
say() { printf '\n$ %s\n' "$*"; "$@"; }

say skillcrate validate "$here/commit-message"
say skillcrate versions oci:vendor/registry/hello-world
say skillcrate init
say skillcrate add oci:vendor/registry/hello-world oci:vendor/registry/commit-message
say cat skills.json
say skillcrate list
say skillcrate verify
say skillcrate install
say skillcrate register --agent claude
say rm -rf .agents/skills/hello-world
printf '\n$ echo {} | skillcrate install --hook claude   # what a new session runs\n'
echo '{}' | skillcrate install --hook claude
say ls -l .claude/skills
say skillcrate install --frozen
