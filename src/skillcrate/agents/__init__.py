"""agents: see docs/design.md."""
