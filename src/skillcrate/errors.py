"""The one exception family of skillcrate.

Library code raises these with a message that names what failed (a reference,
a digest, a path); it never prints or exits. Only ``cli.main`` renders them,
as ``error: <message>`` plus ``hint:`` lines, and maps them to exit codes::

    SkillcrateError                 exit 1  (any user-facing failure)
    ├── UsageError                  exit 2  (bad flags or arguments)
    ├── InvalidReference            exit 1  (a reference or layout path that does not parse)
    ├── ValidationError             exit 1  (a skill folder breaks the Agent Skills rules)
    ├── FormatError                 exit 1  (an artifact that is not a skill, unsafe archive)
    │   └── UnsafePath              exit 1  (a tar member or path escaping its root)
    ├── NotFound                    exit 1  (manifest, blob, tag or repository missing)
    ├── DigestMismatch              exit 1  (bytes do not match their digest)
    ├── RegistryError               exit 1  (HTTP failure: method, url, status)
    │   ├── AuthError               exit 1  (401/403 after answering the challenge)
    │   └── RegistryUnreachable     exit 1  (connection refused, DNS, timeout)
    ├── FilesystemError             exit 1  (an OS error on a named path: read-only, ENOSPC)
    ├── ProjectError                exit 1  (skills.json / lock / install state)
    │   ├── ManifestError           exit 1  (malformed skills.json: file and line)
    │   ├── LockfileError           exit 1  (malformed skills.lock.json)
    │   └── FrozenLockfileError     exit 1  (--frozen found drift)
    ├── NoMatchingVersion           exit 1  (no tag satisfies a range)
    ├── DependencyError             exit 1  (skills that need conflicting versions, or a cycle)
    ├── LifecycleError              exit 1  (an illegal lifecycle transition)
    ├── SigningError                exit 1  (a key that cannot be read, made or used)
    └── VerificationError           exit 1  (a signature or trust policy check failed)
"""

from __future__ import annotations


class SkillcrateError(Exception):
    """Base of every error skillcrate reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hints: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self._hints = list(hints or [])

    def hints(self) -> list[str]:
        return list(self._hints)

    def __str__(self) -> str:
        return self.message


class UsageError(SkillcrateError):
    exit_code = 2


class InvalidReference(SkillcrateError):
    pass


class ValidationError(SkillcrateError):
    pass


class FormatError(SkillcrateError):
    pass


class UnsafePath(FormatError):
    pass


class NotFound(SkillcrateError):
    pass


class DigestMismatch(SkillcrateError):
    pass


class RegistryError(SkillcrateError):
    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        hints: list[str] | None = None,
    ) -> None:
        super().__init__(message, hints=hints)
        self.method = method
        self.url = url
        self.status = status


class AuthError(RegistryError):
    pass


class RegistryUnreachable(RegistryError):
    pass


class FilesystemError(SkillcrateError):
    """An operating-system error on a path skillcrate reads or writes (named in the message)."""

    def __init__(self, message: str, *, errno: int | None = None, hints: list[str] | None = None):
        super().__init__(message, hints=hints)
        self.errno = errno


class ProjectError(SkillcrateError):
    pass


class ManifestError(ProjectError):
    pass


class LockfileError(ProjectError):
    pass


class FrozenLockfileError(ProjectError):
    pass


class NoMatchingVersion(SkillcrateError):
    pass


class DependencyError(SkillcrateError):
    pass


class LifecycleError(SkillcrateError):
    pass


class SigningError(SkillcrateError):
    pass


class VerificationError(SkillcrateError):
    pass
