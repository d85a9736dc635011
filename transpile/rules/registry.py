"""The list of rules. Add a module here and a page in docs/rules/ to add a rule.

Dockerfile rules (``check(df, parsed)``) run in `dockuni check`; image rules (``check_image(analysis)``,
the DU9xx family) run wherever an image is analysed (inspect, graph, convert).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from transpile.ir import Finding, Severity
from transpile.model.image import ImageAnalysis
from transpile.rules.base import Rule
from transpile.rules.image import ImageCheckFn

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


IMAGE_RULE_MODULES: tuple[str, ...] = (
    "du901_config_mismatch",
    "du903_entrypoint",
    "du904_missing_library",
    "du905_unreadable_elf",
    "du906_foreign_elf",
    "du907_skipped_entries",
    "du908_ld_so_conf",
    "du909_dependency_cycle",
)


@dataclass(frozen=True)
class ImageRule:
    id: str
    title: str
    severity: Severity
    need: str
    hint: str
    check_image: ImageCheckFn


@functools.cache
def image_rules() -> tuple[ImageRule, ...]:
    out = []
    for name in IMAGE_RULE_MODULES:
        module = importlib.import_module(f"transpile.rules.{name}")
        out.append(
            ImageRule(module.ID, module.TITLE, module.SEVERITY, module.NEED, module.HINT, module.check_image)
        )
    return tuple(out)


def check_image(analysis: ImageAnalysis) -> tuple[Finding, ...]:
    """Every image rule's findings about ANALYSIS, in rule order."""
    return tuple(f for rule in image_rules() for f in rule.check_image(analysis))


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
