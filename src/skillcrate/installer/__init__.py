"""installer: see docs/design.md."""
