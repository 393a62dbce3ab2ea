"""The operator commands' one error: a sentence for people and the exit code to leave with.

Every command in ops/ raises `CommandError`; the entry points (`build.py`, `stream_upload.py`)
catch it, print `error: <message>` on stderr with no traceback and return its code: 2 for a
wrong command line, a missing file or missing setup, 1 when a server or the network failed.
"""

from __future__ import annotations

USAGE = 2  # the operator can fix it: the command line, a file, the credentials
FAILED = 1  # the server or the network failed: the same command may work later


class CommandError(Exception):
    """A problem for people: printed as one `error: ...` line, with the exit code to use."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message
