"""OCI registry and image-layout clients behind small Target interfaces.

A :class:`Client` (owned by the command that uses it) opens a ``RegistryRepository`` for
``host/repo`` references and a ``LayoutRepository`` for ``oci:PATH`` references; its
transports (auth state, and which repositories hold which blobs, for cross-repository
mounts) are shared by the targets it opens, per registry host. Nothing is cached process-wide.
"""

from __future__ import annotations

from .client import Client, ClientOptions, open_target
from .model import Descriptor
from .target import Target

__all__ = ["Client", "ClientOptions", "Descriptor", "Target", "open_target"]
