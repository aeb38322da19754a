"""The project a command works on: its folder, the cache, and how to reach registries."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .._flock import state_lock, state_lock_path
from ..boundary import Boundary
from ..cache import Cache
from ..errors import ManifestError, NotFound, ProjectError
from ..oci import Client, ClientOptions
from ..oci.target import Target
from ..reference import Reference
from .files import LOCK_NAME, MANIFEST_NAME
from .lockfile import Lockfile, load_lockfile
from .manifest import Manifest, load_manifest

Reporter = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class Project:
    """A project folder and how to reach registries and the cache from it."""

    root: Path
    cache: Cache = field(default_factory=Cache)
    options: ClientOptions = field(default_factory=ClientOptions)
    offline: bool = False
    report: Reporter = _quiet
    pre: bool = False  # let ranges pick prereleases and draft/testing versions (--pre)
    allow_link_dirs: tuple[str, ...] = ()  # link folders the user allowed (command line)
    allow_external: bool = False  # add collection members stored in other repositories
    # -g: the user-level skills.json and lock live here, not in ``root`` (the home folder,
    # where the agents' user-level skill folders are); and no .gitignore is kept
    files_dir: Path | None = None

    @property
    def base_dir(self) -> Path:
        """Where skills.json and the lock are (relative ``oci:`` paths start here)."""
        return self.files_dir if self.files_dir is not None else self.root

    @property
    def is_global(self) -> bool:
        return self.files_dir is not None

    @property
    def manifest_path(self) -> Path:
        return self.base_dir / MANIFEST_NAME

    @property
    def lock_path(self) -> Path:
        return self.base_dir / LOCK_NAME

    @cached_property
    def client(self) -> Client:
        """This project's registry client: one transport per host for the whole command."""
        return Client(self.options)

    @cached_property
    def boundary(self) -> Boundary:
        """Where this project may be written (see :mod:`skillcrate.boundary`)."""
        from ..config import allowed_link_dirs

        return Boundary(self.root, link_dirs=(*self.allow_link_dirs, *allowed_link_dirs()))

    @property
    def lock_file(self) -> Path:
        """Where the project lock lives: the state folder, keyed by the real path."""
        return Path(state_lock_path(self._lock_name))

    @property
    def _lock_name(self) -> str:
        from ..fastpath import project_key

        return f"project-{project_key(self.root)}"

    def lock(self) -> AbstractContextManager[None]:
        """The project's inter-process lock (held for every mutation).

        It lives in the per-user state folder (:func:`skillcrate._flock.state_lock`),
        keyed by the project's real path, so every skillcrate process of the user agrees
        on it whatever its cache folder. When another process holds it, that is said
        (progress) before waiting, up to :func:`~skillcrate._flock.lock_wait` seconds.
        """

        def announce() -> None:
            self.report(f"waiting for another skillcrate process working on {self.root} ...")

        return state_lock(self._lock_name, str(self.root), error=ProjectError, on_wait=announce)

    def load_manifest(self) -> Manifest:
        if not self.manifest_path.is_file():
            raise ManifestError(
                f"no {MANIFEST_NAME} in {self.base_dir}",
                hints=["run `skillcrate init` or `skillcrate add REF` to create one"],
            )
        return load_manifest(self.manifest_path)

    def load_lock(self) -> Lockfile | None:
        return load_lockfile(self.lock_path)

    def target(self, ref: Reference) -> Target | None:
        """The store for ``ref``; None for a registry when offline (cache only).

        ``oci:`` layouts are local folders, so they stay readable offline.
        """
        if self.offline and not ref.layout:
            return None
        return self.client.open(ref, self.base_dir, deferred=True)

    def online_target(self, ref: Reference, why: str) -> Target:
        target = self.target(ref)
        if target is None:
            raise NotFound(f"{why}: needs the registry, but --offline was given")
        return target
