"""trust: see docs/design.md."""
