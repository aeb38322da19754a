"""publish: see docs/design.md."""
