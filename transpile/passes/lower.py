"""Lower the BuildKit-shaped AST to the IR: stages, ARG scoping, word expansion, runtime config.

The semantics follow BuildKit's Dockerfile frontend (moby/buildkit ``frontend/dockerfile``):

* ``instructions/commands.go``: only ENV, ARG, LABEL, ADD, COPY (sources, dest, ``--chown``,
  ``--chmod``, ``--from``), WORKDIR, USER, VOLUME, EXPOSE, STOPSIGNAL and ``RUN --mount`` options
  are expanded; RUN, CMD, ENTRYPOINT, HEALTHCHECK and SHELL never are, in either form (the shell
  expands them at run time);
* global ARGs (before the first FROM) are visible only to FROM lines and to a stage's bare
  ``ARG NAME`` redeclaration, which pulls the global value; ``--build-arg`` values win over
  defaults and are not expanded; the automatic platform ARGs (TARGETPLATFORM, TARGETOS,
  TARGETARCH, BUILDPLATFORM, ...) are in the global scope and must be redeclared inside a stage;
* inside a stage, ENV wins over an ARG of the same name; all the pairs of one ENV (or ARG) line
  see the environment as it was before the line;
* a stage that builds FROM an earlier stage starts from that stage's image config (ENV, WORKDIR,
  USER, CMD, ...), but not from its ARGs;
* ENTRYPOINT resets a CMD that was inherited rather than set in the same stage, shell forms are
  wrapped in SHELL (default ``/bin/sh -c``), and a shell-form ENTRYPOINT ignores CMD.

The pass does no I/O: it turns a ``ParsedFile`` into an ``ir.Dockerfile`` or raises
``DockuniError`` located at the offending instruction.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from transpile import ir
from transpile.errors import DockuniError
from transpile.model.image import DEFAULT_PATH
from transpile.passes.expand import ExpansionError, expand_word, expand_words
from transpile.syntax.ast import Node, ParsedFile

# BuildKit's automatic platform ARGs for a linux/amd64 build on a linux/amd64 host.
PREDEFINED_ARGS: dict[str, str] = {
    "TARGETPLATFORM": "linux/amd64",
    "TARGETOS": "linux",
    "TARGETARCH": "amd64",
    "TARGETVARIANT": "",
    "BUILDPLATFORM": "linux/amd64",
    "BUILDOS": "linux",
    "BUILDARCH": "amd64",
    "BUILDVARIANT": "",
}

# system.DefaultPathEnv for Linux, which BuildKit adds when the base config has no PATH.

_EXPANDED = frozenset(
    {"ENV", "ARG", "LABEL", "ADD", "COPY", "WORKDIR", "USER", "VOLUME", "EXPOSE", "STOPSIGNAL"}
)
_KNOWN = _EXPANDED | frozenset(
    {"FROM", "RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK", "SHELL", "ONBUILD", "MAINTAINER"}
)
# A (simplified) Docker image reference: lower-case path components, optional registry host:port,
# optional tag and digest.
_IMAGE_REF = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+:[a-fA-F0-9]{32,})?$"
)


def span_of(node: Node, file: str) -> ir.Span:
    return ir.Span(file, node.start_line, node.start_column, node.end_line, node.end_column)


def _error(message: str, node: Node, file: str) -> DockuniError:
    return DockuniError(message, file, node.start_line, node.start_column)


def _split_flags(node: Node, file: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for raw in node.flags:
        if not raw.startswith("--"):
            raise _error(f"invalid flag {raw!r}", node, file)
        name, sep, value = raw[2:].partition("=")
        out.append((name.lower(), value if sep else "true"))
    return tuple(out)


@dataclass
class _Config:
    """The mutable image-config half of a stage while it is being dispatched."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    entrypoint_shell_form: bool = False
    cmd_shell_form: bool = False
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = ""
    expose: list[ir.Port] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    healthcheck: ir.Healthcheck | None = None
    stopsignal: str = ""
    shell: tuple[str, ...] = ("/bin/sh", "-c")
    labels: dict[str, str] = field(default_factory=dict)
    entrypoint_span: ir.Span | None = None
    cmd_span: ir.Span | None = None

    def copy(self) -> _Config:
        return replace(
            self,
            env=dict(self.env),
            expose=list(self.expose),
            volumes=list(self.volumes),
            labels=dict(self.labels),
        )

    def freeze(self) -> ir.RuntimeConfig:
        if self.entrypoint:
            argv = self.entrypoint if self.entrypoint_shell_form else self.entrypoint + self.cmd
        else:
            argv = self.cmd
        return ir.RuntimeConfig(
            entrypoint=self.entrypoint,
            cmd=self.cmd,
            argv=argv,
            entrypoint_shell_form=self.entrypoint_shell_form,
            cmd_shell_form=self.cmd_shell_form,
            env=tuple(self.env.items()),
            workdir=self.workdir,
            user=self.user,
            expose=tuple(dict.fromkeys(self.expose)),
            volumes=tuple(dict.fromkeys(self.volumes)),
            healthcheck=self.healthcheck,
            stopsignal=self.stopsignal,
            shell=self.shell,
            labels=tuple(self.labels.items()),
            entrypoint_span=self.entrypoint_span,
            cmd_span=self.cmd_span,
        )


class _Lowering:
    def __init__(self, parsed: ParsedFile, build_args: Mapping[str, str]) -> None:
        self.parsed = parsed
        self.file = parsed.file
        self.escape = parsed.escape or "\\"
        self.build_args = dict(build_args)
        self.global_env: dict[str, str] = dict(PREDEFINED_ARGS)
        self.global_args: list[tuple[str, str | None]] = []
        self.stages: list[ir.Stage] = []
        self.configs: list[_Config] = []
        self.names: dict[str, int] = {}
        self.stage_names_all = self._collect_stage_names()

    def _collect_stage_names(self) -> dict[str, int]:
        # Stage names for --from may refer forward (BuildKit orders stages by dependency).
        names: dict[str, int] = {}
        index = 0
        for node in self.parsed.nodes:
            if node.cmd.lower() != "from":
                continue
            if len(node.value) == 3 and node.value[1].lower() == "as":
                names.setdefault(node.value[2].lower(), index)
            index += 1
        return names

    # -- expansion helpers ---------------------------------------------------------------------
    def expand(self, word: str, env: Mapping[str, str], node: Node) -> str:
        try:
            return expand_word(word, env, self.escape)
        except ExpansionError as err:
            raise _error(f"{node.cmd.upper()}: {err.message} (in {word!r})", node, self.file) from None

    def expand_split(self, word: str, env: Mapping[str, str], node: Node) -> list[str]:
        try:
            return expand_words(word, env, self.escape)
        except ExpansionError as err:
            raise _error(f"{node.cmd.upper()}: {err.message} (in {word!r})", node, self.file) from None

    # -- the walk ------------------------------------------------------------------------------
    def run(self) -> ir.Dockerfile:
        nodes = self.parsed.nodes
        if not nodes:
            raise DockuniError("the Dockerfile has no instructions", self.file, 1, 1)
        i = 0
        while i < len(nodes) and nodes[i].cmd.lower() != "from":
            node = nodes[i]
            if node.cmd.lower() != "arg":
                raise _error(
                    f"{node.cmd.upper()} before the first FROM: only ARG may precede FROM", node, self.file
                )
            self.global_arg(node)
            i += 1
        if i == len(nodes):
            raise DockuniError("the Dockerfile has no FROM instruction", self.file, nodes[-1].end_line, 1)
        while i < len(nodes):
            j = i + 1
            while j < len(nodes) and nodes[j].cmd.lower() != "from":
                j += 1
            self.stage(nodes[i], nodes[i + 1 : j])
            i = j
        runtime = self.configs[-1].freeze()
        return ir.Dockerfile(
            file=self.file,
            directives=self.parsed.directives,
            global_args=tuple(self.global_args),
            stages=tuple(self.stages),
            runtime=runtime,
        )

    def _arg_pairs(self, node: Node) -> list[tuple[str, str | None]]:
        pairs: list[tuple[str, str | None]] = []
        for item in node.value:
            key, sep, default = item.partition("=")
            if not key:
                raise _error(f"ARG requires a name: {item!r}", node, self.file)
            pairs.append((key, default if sep else None))
        if not pairs:
            raise _error("ARG requires at least one argument", node, self.file)
        return pairs

    def global_arg(self, node: Node) -> None:
        for key, default in self._arg_pairs(node):
            key = self.expand(key, self.global_env, node)
            value: str | None
            if key in self.build_args:
                value = self.build_args[key]
            elif default is not None:
                value = self.expand(default, self.global_env, node)
            else:
                value = PREDEFINED_ARGS.get(key)
            self.global_args.append((key, value))
            if value is not None:
                self.global_env[key] = value
            else:
                self.global_env.pop(key, None)

    def stage(self, from_node: Node, body: tuple[Node, ...]) -> None:
        index = len(self.stages)
        flags = _split_flags(from_node, self.file)
        values = from_node.value
        if len(values) not in (1, 3) or (len(values) == 3 and values[1].lower() != "as"):
            raise _error("FROM requires IMAGE [AS NAME]", from_node, self.file)
        base = self.expand(values[0], self.global_env, from_node)
        if not base:
            raise _error(f"FROM: base image name {values[0]!r} expands to nothing", from_node, self.file)
        name = values[2].lower() if len(values) == 3 else ""
        if name and name in self.names:
            raise _error(f"duplicate stage name {name!r}", from_node, self.file)
        platform = ""
        for key, flag_value in flags:
            if key == "platform":
                platform = self.expand(flag_value, self.global_env, from_node)
            else:
                raise _error(f"FROM: unknown flag --{key}", from_node, self.file)
        base_stage = self.names.get(base.lower())
        if base_stage is not None:
            config = self.configs[base_stage].copy()
            if not platform:
                platform = self.stages[base_stage].platform
        else:
            config = _Config()
            if base.lower() == "scratch":
                config.env["PATH"] = DEFAULT_PATH
        if name:
            self.names[name] = index
        args: dict[str, str] = {}
        cmd_set = False
        instructions: list[ir.Instruction] = []
        copy_from: list[str] = []
        instructions.append(
            ir.Instruction(
                kind="FROM",
                args=(base, *values[1:]),
                raw=values,
                json_form=False,
                flags=tuple((k, platform if k == "platform" else v) for k, v in flags),
                span=span_of(from_node, self.file),
                original=from_node.original,
            )
        )
        for node in body:
            env = {**args, **config.env}
            kind = node.cmd.upper()
            if kind not in _KNOWN:
                raise _error(f"unknown instruction: {node.cmd}", node, self.file)
            flags_n = _split_flags(node, self.file)
            out_args: tuple[str, ...] = node.value
            if kind == "ARG":
                expanded_pairs: list[str] = []
                for key, default in self._arg_pairs(node):
                    key = self.expand(key, env, node)
                    arg_value: str | None
                    if key in self.build_args:
                        arg_value = self.build_args[key]
                    elif default is not None:
                        arg_value = self.expand(default, env, node)
                    else:
                        arg_value = self._global_value(key)
                    if arg_value is not None:
                        args[key] = arg_value
                        env = {**args, **config.env}
                    expanded_pairs.append(key if arg_value is None else f"{key}={arg_value}")
                out_args = tuple(expanded_pairs)
            elif kind == "ENV":
                pairs = self._pairs(node, env)
                for key, env_value in pairs:
                    if not key:
                        raise _error("ENV names can not be blank", node, self.file)
                    config.env.pop(key, None)  # re-setting moves it last, as the image config does
                    config.env[key] = env_value
                out_args = tuple(x for kv in pairs for x in kv)
            elif kind == "LABEL":
                pairs = self._pairs(node, env)
                for key, label in pairs:
                    config.labels[key] = label
                out_args = tuple(x for kv in pairs for x in kv)
            elif kind == "WORKDIR":
                if len(node.value) != 1:
                    raise _error("WORKDIR requires exactly one argument", node, self.file)
                path = self.expand(node.value[0], env, node)
                joined = path if path.startswith("/") else posixpath.join(config.workdir, path)
                config.workdir = posixpath.normpath("/" + joined.lstrip("/"))
                out_args = (path,)
            elif kind == "USER":
                if len(node.value) != 1:
                    raise _error("USER requires exactly one argument", node, self.file)
                config.user = self.expand(node.value[0], env, node)
                out_args = (config.user,)
            elif kind == "EXPOSE":
                words = [w for v in node.value for w in self.expand_split(v, env, node)]
                for word in words:
                    config.expose.extend(self._ports(word, node))
                out_args = tuple(words)
            elif kind == "VOLUME":
                vols = [self.expand(v, env, node) for v in node.value]
                if not vols:
                    raise _error("VOLUME requires at least one argument", node, self.file)
                for vol in vols:
                    if not vol.strip():
                        raise _error("VOLUME specified can not be an empty string", node, self.file)
                    config.volumes.append(vol)
                out_args = tuple(vols)
            elif kind == "STOPSIGNAL":
                if len(node.value) != 1:
                    raise _error("STOPSIGNAL requires exactly one argument", node, self.file)
                config.stopsignal = self.expand(node.value[0], env, node)
                out_args = (config.stopsignal,)
            elif kind in ("COPY", "ADD"):
                out_args = tuple(self.expand(v, env, node) for v in node.value)
                expanded_flags = []
                for key, flag_value in flags_n:
                    if key in ("from", "chown", "chmod", "checksum"):
                        flag_value = self.expand(flag_value, env, node)
                    if key == "from":
                        copy_from.append(self._from_ref(flag_value, index, node))
                    expanded_flags.append((key, flag_value))
                flags_n = tuple(expanded_flags)
            elif kind == "RUN":
                expanded_flags = []
                for key, flag_value in flags_n:
                    if key == "mount":
                        flag_value = self.expand(flag_value, env, node)
                        ref = _mount_from(flag_value)
                        if ref:
                            copy_from.append(self._from_ref(ref, index, node))
                    expanded_flags.append((key, flag_value))
                flags_n = tuple(expanded_flags)
            elif kind == "SHELL":
                if not node.json or not node.value:
                    raise _error("SHELL requires the arguments to be in JSON form", node, self.file)
                config.shell = tuple(node.value)
            elif kind == "ENTRYPOINT":
                config.entrypoint, config.entrypoint_shell_form = self._command(node, config)
                config.entrypoint_span = span_of(node, self.file)
                if not cmd_set:
                    config.cmd, config.cmd_shell_form, config.cmd_span = (), False, None
            elif kind == "CMD":
                config.cmd, config.cmd_shell_form = self._command(node, config)
                config.cmd_span = span_of(node, self.file)
                cmd_set = True
            elif kind == "HEALTHCHECK":
                config.healthcheck = self._healthcheck(node, flags_n)
            instructions.append(
                ir.Instruction(
                    kind=kind,
                    args=out_args,
                    raw=node.value,
                    json_form=node.json,
                    flags=flags_n,
                    span=span_of(node, self.file),
                    heredocs=tuple((h.name, h.content) for h in node.heredocs),
                    original=node.original,
                    onbuild=self._onbuild(node) if kind == "ONBUILD" else None,
                )
            )
        self.configs.append(config)
        self.stages.append(
            ir.Stage(
                index=index,
                name=name,
                base=base,
                base_stage=base_stage,
                platform=platform,
                instructions=tuple(instructions),
                copy_from=tuple(dict.fromkeys(copy_from)),
                span=span_of(from_node, self.file),
                runtime=config.freeze(),
            )
        )

    def _global_value(self, key: str) -> str | None:
        for name, value in reversed(self.global_args):
            if name == key:
                return value
        return PREDEFINED_ARGS.get(key)

    def _pairs(self, node: Node, env: Mapping[str, str]) -> list[tuple[str, str]]:
        values = node.value
        if not values or len(values) % 2:
            raise _error(f"{node.cmd.upper()} requires KEY VALUE or KEY=VALUE pairs", node, self.file)
        return [
            (self.expand(values[i], env, node), self.expand(values[i + 1], env, node))
            for i in range(0, len(values), 2)
        ]

    def _ports(self, word: str, node: Node) -> list[ir.Port]:
        spec, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise _error(f"EXPOSE: invalid protocol {proto!r} in {word!r}", node, self.file)
        # An IP prefix (EXPOSE ip:port) is accepted and ignored by the engine.
        spec = spec.rsplit(":", 1)[-1]
        low, _, high = spec.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise _error(f"EXPOSE: invalid port {word!r}", node, self.file)
        first, last = int(low), int(high or low)
        if not (0 < first <= last <= 65535):
            raise _error(f"EXPOSE: invalid port range {word!r}", node, self.file)
        return [ir.Port(n, proto) for n in range(first, last + 1)]  # type: ignore[arg-type]

    def _command(self, node: Node, config: _Config) -> tuple[tuple[str, ...], bool]:
        if node.json:
            return tuple(node.value), False
        if not node.value or not "".join(node.value).strip():
            return (), False
        return (*config.shell, " ".join(node.value)), True

    def _healthcheck(self, node: Node, flags: tuple[tuple[str, str], ...]) -> ir.Healthcheck:
        if not node.value:
            raise _error("HEALTHCHECK requires CMD or NONE", node, self.file)
        head = node.value[0].upper()
        options = dict(flags)
        unknown = set(options) - {"interval", "timeout", "start-period", "start-interval", "retries"}
        if unknown:
            raise _error(f"HEALTHCHECK: unknown flag --{sorted(unknown)[0]}", node, self.file)
        if head == "NONE":
            if len(node.value) > 1 or options:
                raise _error("HEALTHCHECK NONE takes no other arguments", node, self.file)
            return ir.Healthcheck(("NONE",), span=span_of(node, self.file))
        if head != "CMD":
            raise _error(f"HEALTHCHECK: unknown type {node.value[0]!r} (CMD or NONE)", node, self.file)
        rest = node.value[1:]
        if not rest:
            raise _error("HEALTHCHECK CMD requires a command", node, self.file)
        test = ("CMD", *rest) if node.json else ("CMD-SHELL", " ".join(rest))
        retries = options.get("retries", "0")
        if not retries.isdigit():
            raise _error(f"HEALTHCHECK: --retries must be a number, not {retries!r}", node, self.file)
        return ir.Healthcheck(
            test=test,
            interval=options.get("interval", ""),
            timeout=options.get("timeout", ""),
            start_period=options.get("start-period", ""),
            start_interval=options.get("start-interval", ""),
            retries=int(retries),
            span=span_of(node, self.file),
        )

    def _from_ref(self, ref: str, index: int, node: Node) -> str:
        """Validate a ``--from``/``from=`` reference: a stage name, a stage index or an image."""
        if ref.isdigit():
            n = int(ref)
            if n >= index:
                message = f"--from={ref}: stage {n} is not an earlier stage (this is stage {index})"
                raise _error(message, node, self.file)
            return self.stages[n].name or str(n)
        target = self.stage_names_all.get(ref.lower())
        if target is not None:
            if target == index:
                raise _error(f"--from={ref}: a stage can not copy from itself", node, self.file)
            return ref.lower()
        if not _IMAGE_REF.match(ref):
            raise _error(f"--from={ref}: no stage of that name, and not an image reference", node, self.file)
        return ref

    def _onbuild(self, node: Node) -> ir.Instruction:
        # Triggers run in the child build, with the child's environment: nothing is expanded here.
        trigger_flags = replace(node, flags=node.sub_flags)
        return ir.Instruction(
            kind=(node.sub_cmd or "").upper(),
            args=node.value,
            raw=node.value,
            json_form=node.json,
            flags=_split_flags(trigger_flags, self.file),
            span=span_of(node, self.file),
            heredocs=tuple((h.name, h.content) for h in node.heredocs),
            original=node.original,
        )


def _mount_from(spec: str) -> str:
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "from":
            return value.strip()
    return ""


def lower(
    parsed: ParsedFile, build_args: Mapping[str, str] | None = None, *, source: str | None = None
) -> ir.Dockerfile:
    """Lower a parsed Dockerfile to the IR (``source``: the file text, kept for precise columns)."""
    df = _Lowering(parsed, build_args or {}).run()
    if source is not None:
        df = replace(df, source_lines=tuple(source.splitlines()))
    return df
