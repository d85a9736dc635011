"""Plain-text summary of a :class:`TraceFacts` (what ``dockuni trace --format text`` prints)."""

from __future__ import annotations

from transpile.model.trace import TraceFacts


def summary_text(facts: TraceFacts, seccomp_path: str = "") -> str:
    procs = [p for p in facts.processes if not p.is_thread]
    threads = [p for p in facts.processes if p.is_thread]
    found = [f for f in facts.files if f.found]
    missing = sorted({f.path for f in facts.files if not f.found})
    written = sorted({f.path for f in facts.files if f.write and f.found})
    lines = [
        f"argv:        {' '.join(facts.argv)}",
        f"result:      {facts.exit_reason}"
        + (f" (status {facts.exit_status})" if facts.exit_status is not None else "")
        + (f" by {facts.extra['killed_by']}" if facts.extra.get("killed_by") else "")
        + f" after {facts.duration_s:.1f} s",
        f"processes:   {len(procs)} process(es), {len(threads)} thread(s); execs: "
        + ("; ".join(" ".join(e) for e in facts.execs[:5]) or "-"),
        f"syscalls:    {len(facts.syscalls)} distinct, {sum(c for _, c in facts.syscalls)} calls",
        "             " + " ".join(n for n, _ in facts.syscalls),
        f"files:       {len({f.path for f in found})} found, {len(missing)} missing, {len(written)} written",
        f"dlopen:      {', '.join(facts.dlopened) or '-'}",
        f"listening:   {', '.join(str(p) for p in facts.listening_ports) or '-'}",
        "sockets:     "
        + (
            ", ".join(
                f"{s.family}/{s.type}"
                + (f" bound {s.bound}" if s.bound else "")
                + (" listening" if s.listening else "")
                for s in facts.sockets
            )
            or "-"
        ),
        f"signals:     {', '.join(facts.signals) or '-'}",
    ]
    if facts.outcomes:
        counts = {ph: sum(sum(r.values()) for r in calls.values()) for ph, calls in facts.outcomes.items()}
        lines.append(
            "phases:      "
            + ", ".join(f"{ph} {counts.get(ph, 0)} calls" for ph in ("startup", "serving", "shutdown"))
        )
        lines.append(f"shutdown-only: {' '.join(sorted(facts.shutdown_only)) or '-'}")
        failed = facts.results(("startup", "serving"))
        lines.append(
            "failure-only:  "
            + (
                " ".join(f"{name}({','.join(sorted(failed[name]))})" for name in sorted(facts.failure_only))
                or "-"
            )
        )
    for inj in facts.injections:
        hits = dict(facts.injected).get(inj.syscall, 0) if inj.syscall else None
        lines.append(f"injected:    {inj.key}" + (f" ({hits} call(s))" if hits is not None else ""))
    for probe in facts.probes:
        state = "ok" if probe.get("ok") else "FAILED"
        lines.append(
            f"probe:       {probe.get('kind')} {probe.get('target')}: {state} ({probe.get('detail')})"
        )
    for finding in facts.findings:
        lines.append(f"finding:     {finding}")
    if seccomp_path:
        lines.append(f"seccomp:     profile written to {seccomp_path}")
    return "\n".join(lines) + "\n"
