"""The list of rules. Add a module here and a page in docs/rules/ to add a rule."""

from __future__ import annotations

import functools
import importlib

from transpile.rules.base import Rule

RULE_MODULES: tuple[str, ...] = (
    "du201_shell_form",
    "du202_shell_entrypoint",
    "du203_supervisor",
    "du204_multiple_processes",
    "du205_daemonizing",
    "du206_healthcheck",
    "du301_volume",
    "du302_dev_stdout_symlink",
    "du401_user",
    "du501_sctp",
    "du601_platform",
    "du701_onbuild",
    "du702_package_cache",
    "du703_mirage",
)


@functools.cache
def all_rules() -> tuple[Rule, ...]:
    rules = tuple(
        Rule.from_module(importlib.import_module(f"transpile.rules.{name}")) for name in RULE_MODULES
    )
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate rule ids: {ids}")
    return rules


def rules_by_id() -> dict[str, Rule]:
    return {rule.id: rule for rule in all_rules()}
