"""The command line: ``parallel validate | run | record | train | generate | report``.

Exit status: 0 success, 2 bad input (one paragraph, no traceback), 1 failure while running.
The CLI owns the terminal: progress bars while a run is under way, one screen of summary
at the end. Library code only logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from parallel.cli.common import err_console
from parallel.cli.gan import _default_train_out, cmd_evaluate, cmd_generate, cmd_train, cmd_verify
from parallel.cli.parser import _parser
from parallel.cli.traffic import cmd_fidelity, cmd_record, cmd_report, cmd_run, cmd_validate
from parallel.core.errors import ParallelError, UserInputError

#: commands whose --out is their own folder, and the files that mark an earlier one of theirs
OUT_SIGNATURES: dict[str, tuple[str, ...]] = {
    "record": ("provenance.json",),
    "train": ("checkpoint.pt",),
    "generate": ("manifest.json",),
    "evaluate": (),
}


@contextmanager
def _claimed(out: Path, command: str) -> Iterator[None]:
    """The output-folder rule and lock (:mod:`parallel.core.outdir`) around a command; a
    folder the command made and left with nothing but its own mark is removed again (bad
    input found after the claim leaves no trace)."""
    import shutil

    from parallel.core.outdir import OURS, claim

    made = not out.exists()
    try:
        with claim(out, command, OUT_SIGNATURES[command]):
            yield
    finally:
        if made and out.is_dir() and all(p.name in OURS for p in out.iterdir()):
            shutil.rmtree(out)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds as an interrupt does: run.json
    says ``interrupted``, pool workers are stopped, and the exit status is 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # not inside someone else's handler
        signal.signal(signal.SIGTERM, _on_sigterm)
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # a pipe or a CI log gets a wide console, so the summary table is not cut to 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=130)
    commands = {
        "validate": cmd_validate,
        "run": cmd_run,
        "record": cmd_record,
        "train": cmd_train,
        "generate": cmd_generate,
        "evaluate": cmd_evaluate,
        "report": cmd_report,
        "fidelity": cmd_fidelity,
        "verify": cmd_verify,
    }
    try:
        if args.command not in OUT_SIGNATURES:
            return commands[args.command](args, console)
        if args.command == "train":
            _default_train_out(args)
        with _claimed(args.out, args.command):
            return commands[args.command](args, console)
    except UserInputError as exc:
        if args.debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except (ParallelError, Exception) as exc:  # a failure while running
        if args.debug:
            raise
        err_console.print(
            f"[red]failed:[/red] {type(exc).__name__}: {escape(str(exc))} (rerun with --debug "
            "for the traceback)" + _notes(exc),
            highlight=False,
            soft_wrap=True,
        )
        return 1
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        err_console.print(
            f"{what}; files already written are complete (atomic writes)" + _notes(exc),
            highlight=False,
            soft_wrap=True,
        )
        return 143 if isinstance(exc, Terminated) else 130


def _notes(exc: BaseException) -> str:
    """What the code that saw the exception added (``add_note``): how to go on, say."""
    return "".join(f"; {escape(n)}" for n in getattr(exc, "__notes__", ()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
