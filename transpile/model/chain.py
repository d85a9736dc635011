"""The entrypoint chain: what ``execve`` runs, from argv through PATH, symlinks and ``#!`` to an ELF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ChainProblem:
    """Why execve would fail somewhere along the chain (rule DU903 reports it)."""

    message: str
    evidence: str

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "evidence": self.evidence}


StepKind = Literal["elf", "script", "missing", "not-executable", "unknown-format", "directory", "loop"]


@dataclass(frozen=True)
class ChainStep:
    """One program in the chain, with paths inside the image."""

    name: str  # as written in argv / the #! line
    path: str  # after PATH lookup ("" when not found)
    resolved: str  # after following symlinks inside the root ("" when missing)
    kind: StepKind
    links: tuple[str, ...] = ()  # symlinks followed, in order
    argv: tuple[str, ...] = ()  # the argv this program receives
    size: int = 0
    shebang: str = ""  # the #! line of a script
    interpreter: str = ""  # for a script: the program its #! line runs (the next step's path)

    @property
    def where(self) -> str:
        """The most precise image path known for this step."""
        return self.resolved or self.path or self.name

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "resolved": self.resolved,
            "kind": self.kind,
            "links": list(self.links),
            "argv": list(self.argv),
            "size": self.size,
            "shebang": self.shebang,
            "interpreter": self.interpreter,
        }


@dataclass(frozen=True)
class EntrypointChain:
    argv: tuple[str, ...]
    path_env: str
    workdir: str
    steps: tuple[ChainStep, ...]
    shell_command: str = ""  # the -c string when the entrypoint is a shell (shell form)
    command_steps: tuple[ChainStep, ...] = ()  # the program a simple shell command runs
    problems: tuple[ChainProblem, ...] = ()

    @property
    def program(self) -> ChainStep | None:
        """The ELF that ``execve`` finally loads (the interpreter of a script), if any."""
        last = self.steps[-1] if self.steps else None
        return last if last is not None and last.kind == "elf" else None

    @property
    def elfs(self) -> tuple[ChainStep, ...]:
        return tuple(s for s in (*self.steps, *self.command_steps) if s.kind == "elf")

    def to_json(self) -> dict[str, object]:
        return {
            "argv": list(self.argv),
            "path_env": self.path_env,
            "workdir": self.workdir,
            "steps": [s.to_json() for s in self.steps],
            "shell_command": self.shell_command,
            "command_steps": [s.to_json() for s in self.command_steps],
            "problems": [p.to_json() for p in self.problems],
        }

