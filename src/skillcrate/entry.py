"""The console script's first module: answer "nothing to do" before loading the CLI.

Every agent session start runs ``skillcrate install --hook AGENT``, and on an unchanged
project the whole answer is "up to date". This module recognises exactly the no-op
shapes of the command line (``install`` and ``install --hook AGENT``, after the global
options that cannot change the answer), runs the no-op check of :mod:`skillcrate.fastpath`,
and answers. Anything else, or a project that is not up to date, falls through to the
full CLI (click, the library) with the same arguments and the same stdin. Either way the
process then ends without the interpreter's teardown (:func:`_exit_after`).

Stdlib only, and not even :mod:`pathlib`, :mod:`json` or :mod:`re` on the no-op path: it
imports nothing of skillcrate but ``fastpath`` and ``agents.specs``, which import nothing
else (``tests/test_noop_entry.py`` checks).
"""

from __future__ import annotations

import gc
import io
import os
import sys

from .agents.specs import (
    AGENTS,
    NOTHING_TO_SAY,
    hook_project_path,
    parse_hook_stdin,
    read_hook_stdin,
    working_dir,
)
from .fastpath import MANIFEST_NAME, find_project_root, global_files_path, is_up_to_date

_FLAGS = {"-q", "--quiet", "--plain-http", "--insecure", "-g", "--global"}


def hoist_global_flags(args: list[str]) -> list[str]:
    """``args`` with the global flags given after the command moved before it.

    npm and uv users type ``skillcrate install -q``; click takes the root group's options
    only before the command. Only flags that take no value move (``-q``, ``--quiet``,
    ``-v``…, ``--verbose``, ``--plain-http``, ``--insecure``, ``-g``, ``--global``), never
    after ``--``.
    """
    head: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-"):  # the options before the command
        takes_value = args[i] in ("-C", "--project", "--timeout")
        head.append(args[i])
        if takes_value and i + 1 < len(args):
            head.append(args[i + 1])
            i += 1
        i += 1
    hoisted: list[str] = []
    rest: list[str] = []
    for j, arg in enumerate(args[i:], start=i):
        if arg == "--":
            rest += args[j:]
            break
        if arg in _FLAGS or arg == "--verbose" or _is_verbose(arg):
            hoisted.append(arg)
        else:
            rest.append(arg)
    return head + hoisted + rest if hoisted else args


def _is_verbose(arg: str) -> bool:
    return len(arg) > 1 and arg[0] == "-" and set(arg[1:]) == {"v"}


def main(argv: list[str] | None = None) -> None:
    """Entry point: the no-op answer when it applies, else the full CLI."""
    args = hoist_global_flags(sys.argv[1:] if argv is None else list(argv))
    collecting = gc.isenabled()
    gc.disable()  # the check makes ~15,000 objects and no cycles: no collection pays
    try:
        answered = _answer(args)
    finally:
        if collecting:
            gc.enable()
    if answered:
        if argv is None:  # the process's own command line: nothing is left to do
            _exit_now()
        sys.exit(0)
    from .cli import main as full

    if argv is not None:  # called in a process that goes on (tests): exit as usual
        full(args)
    try:
        full(args)
    except SystemExit as exc:
        if isinstance(exc.code, int | None):
            _exit_after(exc.code or 0)
        raise


def _exit_after(code: int) -> None:
    """Exit with ``code`` without tearing the interpreter down, once the command is done:
    freeing a command's objects and modules took 15-45 ms of a ``list`` in a 300-skill
    project. What the teardown would still do that matters runs first: the ``atexit``
    handlers (``weakref.finalize`` ones among them: pack's temp folders) and the flush of
    the output. Where that cannot be done (no ``atexit._run_exitfuncs``, a closed pipe),
    the normal exit runs. The command's threads have all been joined; its files are
    closed (every write is a ``with`` or an atomic rename)."""
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return
    run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        os._exit(1)
    os._exit(code)


def _exit_now() -> None:
    """Exit 0 without tearing the interpreter down: on a 500-skill project, freeing the
    install state's objects and the modules took ~4 ms of a ~45 ms answer. The no-op
    path registers no ``atexit`` handlers and holds no open files; its output is
    flushed first (when that fails, e.g. a closed pipe, the normal exit reports it)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return
    os._exit(0)


def _parse(args: list[str]) -> tuple[str | None, bool, str | None, bool] | None:
    """(project option, quiet, hook agent, -g) for a no-op candidate; None for anything else."""
    project: str | None = None
    quiet = user = False
    i = 0
    while i < len(args) and args[i] != "install":
        arg = args[i]
        if arg in ("-C", "--project") and i + 1 < len(args):
            project, i = args[i + 1], i + 2
            continue
        if arg.startswith("--project="):
            project = arg.split("=", 1)[1]
        elif arg in _FLAGS or arg == "--verbose" or _is_verbose(arg):
            quiet = quiet or arg in ("-q", "--quiet")
            user = user or arg in ("-g", "--global")
        else:
            return None
        i += 1
    rest = args[i + 1 :] if i < len(args) else None
    if rest is None:
        return None
    if not rest:
        return project, quiet, None, user
    if len(rest) == 2 and rest[0] == "--hook":
        agent = rest[1]
    elif len(rest) == 1 and rest[0].startswith("--hook="):
        agent = rest[0].split("=", 1)[1]
    else:
        return None
    return (project, quiet, agent, user) if agent in AGENTS else None


def _answer(args: list[str]) -> bool:
    """Print the no-op answer and return True, or return False to run the full CLI."""
    parsed = _parse(args)
    if parsed is None:
        return False
    project, quiet, agent, user = parsed
    if project is not None and not os.path.isdir(project):
        return False  # let the CLI say what is wrong with it
    if user:
        return _answer_user(project, quiet, agent)
    try:
        if agent is None:
            root = os.path.abspath(project) if project is not None else None
            if not is_up_to_date(root or find_project_root(working_dir())):
                return False
            if not quiet:
                print("skills are up to date", file=sys.stderr)
            return True
        stdin = read_hook_stdin()
        sys.stdin = io.StringIO(stdin)  # the full CLI, if it runs, reads the same input
        if project is not None:
            root = os.path.abspath(project)
        else:
            start = hook_project_path(
                agent, os.environ, lambda: parse_hook_stdin(stdin), working_dir()
            )
            root = find_project_root(start)
        if os.path.isfile(os.path.join(root, MANIFEST_NAME)) and not is_up_to_date(root):
            return False
    except OSError:
        return False  # the full CLI reports it properly
    sys.stdout.write(NOTHING_TO_SAY + "\n")
    sys.stdout.flush()
    return True


def _answer_user(project: str | None, quiet: bool, agent: str | None) -> bool:
    """The no-op answer for ``install -g`` (the user's own skills in the home folder)."""
    files = global_files_path()
    if files is None or project is not None:
        return False  # the CLI knows where the files are, or says -g and -C clash
    home = os.path.expanduser("~")
    try:
        if agent is not None:
            sys.stdin = io.StringIO(read_hook_stdin())  # the full CLI reads the same input
            if not os.path.isfile(os.path.join(files, MANIFEST_NAME)):
                sys.stdout.write(NOTHING_TO_SAY + "\n")  # no user-level skills: nothing to say
                sys.stdout.flush()
                return True
        if not is_up_to_date(home, files):
            return False
    except OSError:
        return False
    if agent is not None:
        sys.stdout.write(NOTHING_TO_SAY + "\n")
        sys.stdout.flush()
    elif not quiet:
        print("skills are up to date", file=sys.stderr)
    return True
