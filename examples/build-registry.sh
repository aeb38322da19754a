#!/bin/sh
# Rebuild examples/registry/: the example skills as OCI image layouts (no server needed).
# Run from the repository root with skillcrate installed: sh examples/build-registry.sh
set -eu
export SOURCE_DATE_EPOCH=1767225600   # 2026-01-01T00:00:00Z: stable manifests
rm -rf examples/registry
skillcrate -q push examples/hello-world oci:examples/registry/hello-world:1.0.0 --tag latest
skillcrate -q push examples/commit-message oci:examples/registry/commit-message:1.2.0 --tag latest
