"""The AST of a Dockerfile exactly as BuildKit's parser builds it (one node per instruction).

Field names follow BuildKit's parser as exposed by PyPI ``dockerfile``'s ``Command`` so that the
differential tests compare like with like; columns are ours (BuildKit keeps only lines).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Heredoc:
    name: str  # the delimiter word, quotes removed
    content: str  # the body, with the trailing newline BuildKit keeps
    file_descriptor: int  # 0 unless written as 3<<EOF
    expand: bool  # False when the delimiter was quoted
    chomp: bool  # True for <<-

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "content": self.content,
            "file_descriptor": self.file_descriptor,
            "expand": self.expand,
            "chomp": self.chomp,
        }


@dataclass(frozen=True)
class Node:
    cmd: str  # lower-case instruction name, as BuildKit reports it ("from", "run", "onbuild", ...)
    sub_cmd: str  # for ONBUILD: the trigger's instruction name as BuildKit reports it; else ""
    json: bool  # exec (JSON array) form
    original: str  # the instruction's source text with continuations joined, as BuildKit keeps it
    start_line: int  # 1-based
    end_line: int
    start_column: int  # 1-based column of the instruction keyword
    end_column: int  # 1-based column just past the last character on end_line
    flags: tuple[str, ...]  # e.g. ("--from=build", "--chown=1:1")
    value: tuple[str, ...]  # BuildKit's node values, token for token
    heredocs: tuple[Heredoc, ...] = ()
    sub_flags: tuple[str, ...] = ()  # for ONBUILD: the trigger's own flags (ONBUILD COPY --from=a ...)

    def to_json(self) -> dict[str, object]:
        return {
            "cmd": self.cmd,
            "sub_cmd": self.sub_cmd,
            "json": self.json,
            "original": self.original,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "start_column": self.start_column,
            "end_column": self.end_column,
            "flags": list(self.flags),
            "value": list(self.value),
            "heredocs": [h.to_json() for h in self.heredocs],
            "sub_flags": list(self.sub_flags),
        }


@dataclass(frozen=True)
class ParsedFile:
    file: str
    directives: tuple[tuple[str, str], ...]  # ("syntax", ...), ("escape", "`"), ("check", ...)
    escape: str  # "\\" or "`"
    nodes: tuple[Node, ...]
    comments: tuple[tuple[int, str], ...] = ()  # (line, text without '#') of every comment line
    warnings: tuple[str, ...] = ()  # BuildKit's parser warnings (e.g. empty continuation lines)
