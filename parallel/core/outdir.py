"""The one output-folder rule, and the lock that keeps two runs out of one folder.

Every command that writes into ``--out`` claims it first with :func:`claim`:

* a folder that does not exist is made, and marked as this command's (a small
  ``.parallel-out.json`` naming the command);
* an existing folder is written into only if it is empty (not even dot-files: those are a
  user's too), or if it carries this same command's mark, or (for folders made before the
  mark existed) one of the command's own signature files. Anything else is a user's
  folder, and the command exits 2 before any work, naming it;
* the claimed folder is locked (``fcntl.flock`` on ``.parallel.lock``) until the command
  ends, so a second command into the same folder exits 2 at once instead of mixing its
  files with the first one's.

Nothing outside a claimed folder is ever written or deleted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from parallel.core.errors import UserInputError

MARK = ".parallel-out.json"
LOCK = ".parallel.lock"
OURS = (MARK, LOCK)


def is_ours(out: Path, command: str, signature: tuple[str, ...] = ()) -> bool:
    """Whether ``out`` was made by ``command`` (its mark, or a signature file)."""
    mark = out / MARK
    if mark.is_file():
        try:
            return json.loads(mark.read_text()).get("command") == command
        except (OSError, ValueError):
            return False
    return any((out / s).exists() for s in signature)


def check(out: Path, command: str, signature: tuple[str, ...] = ()) -> None:
    """The rule without side effects (see the module docstring).

    Raises:
        UserInputError: ``out`` is a file, or a folder with files this command did not make.
    """
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder; give a folder name")
    if not out.exists() or is_ours(out, command, signature):
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OURS)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise UserInputError(
            f"--out {out}: the folder holds files that `parallel {command}` did not make "
            f"({shown}); nothing was written. Give a new or empty folder"
        )


@contextmanager
def claim(out: Path, command: str, signature: tuple[str, ...] = ()) -> Iterator[Path]:
    """Claim ``out`` for ``command`` for the duration of the ``with`` block.

    Raises:
        UserInputError: the folder is a user's (see :func:`check`), or another command
            holds its lock.
    """
    check(out, command, signature)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out, f"--out {out}"):
        if not (out / MARK).is_file():
            (out / MARK).write_text(
                json.dumps({"command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            )
        yield out


@contextmanager
def locked(folder: Path, what: str) -> Iterator[Path]:
    """Hold ``folder``'s lock (``fcntl.flock`` on :data:`LOCK`) for the ``with`` block.

    Raises:
        UserInputError: another command holds it (``what`` names the folder as the user
            gave it).
    """
    import fcntl

    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserInputError(
                f"{what}: another parallel command is writing into this folder; wait "
                "for it to finish, or give another folder"
            ) from None
        yield folder
    finally:
        os.close(fd)  # closing releases the lock
