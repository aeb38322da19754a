"""skill: see docs/design.md."""
