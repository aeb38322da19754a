"""skillcrate: the npm of agent skills, built on OCI registries."""

__version__ = "0.1.0"
