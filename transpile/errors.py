"""The one error type that crosses module boundaries: a located, user-facing message."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What every dockuni command exits with (docs/user-guide.md lists them)."""

    OK = 0
    FINDINGS = 1  # findings at or above the threshold; a conversion that fell back or failed verification
    USAGE = 2  # bad arguments or bad input (a Dockerfile, an image, an output location)
    ENVIRONMENT = 3  # a needed component (the engine, strace, QEMU, a kernel) is missing
    INTERNAL = 4  # a bug: DOCKUNI_DEBUG=1 shows the traceback


class DockuniError(Exception):
    """A problem with the user's input, reported as ``file:line:col: message``.

    ``line``/``column`` are 1-based; 0 means "not applicable" (the whole file, a missing file),
    and then the message reads ``file: message``. ``file`` "-" (the default) or "" means no file:
    ``dockuni: error: message``; an option name as ``file`` reads ``dockuni: error: --opt: message``.
    Standard input, read as "-", always has a position when it is named.
    ``exit_code`` is what the CLI exits with (2: usage or input error, by convention).
    """

    def __init__(self, message: str, file: str = "-", line: int = 0, column: int = 0, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.exit_code = exit_code

    def __str__(self) -> str:
        if self.line > 0:
            return f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.file in ("", "-"):
            return f"dockuni: error: {self.message}"
        if self.file.startswith("-"):
            return f"dockuni: error: {self.file}: {self.message}"
        return f"{self.file}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}
