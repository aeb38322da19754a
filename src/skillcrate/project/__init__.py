"""project: see docs/design.md."""
