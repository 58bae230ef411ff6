"""Which parts of hub/ may import which, read from the source with ``ast`` (no module is run):
the rules that hold today, so that the layers cannot drift further apart unnoticed.

Held here (every import counts: function-local ones and those under ``TYPE_CHECKING`` too):

- the pure leaves ``hub.xml`` and ``hub.crypto`` import nothing of the journal, the routing,
  the console, any CLI module, the simulator or a bench;
- ``hub.cli`` is imported only by the modules that make up the CLI with it (and
  ``hub/__main__.py``, once there is one);
- ``hub.simulator`` is imported only by the simulator itself, the demo, the benches and the CLI
  (tests may import anything: they are not scanned).

Wanted by issue 17 and not true yet, so not checked here (each line is what breaks it today):

- ``hub.canonical`` imports no upper layer: ``asyncapi`` imports ``hub.access``,
  ``hub.services.processing`` and ``hub.routing``; ``commands`` and ``jsonschemas`` import
  ``hub.access``; ``events`` imports ``hub.routing`` (``EventDraft``); ``values`` imports
  ``hub.journal`` (``HUB_NAMESPACE``);
- ``hub.smev`` is pure protocol: ``smev.client`` imports ``hub.journal`` and ``hub.routing``
  (it is a service), ``smev.inspect`` imports ``hub.bootstrap``;
- nothing imports ``hub.cli``: ``hub.cli.tokens``, ``hub.cli.protection`` and
  ``hub.cli.commands`` import ``hub.cli._hub`` (and helpers) inside functions, a cycle;
- only ``bootstrap`` and the entry points import the services; no import cycles at all
  (``bootstrap`` and ``metrics``, ``console.app`` and its pages import each other).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

HUB = Path(__file__).resolve().parents[1] / "hub"
Imports = Mapping[str, frozenset[str]]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, *, package: bool = False) -> frozenset[str]:
    """Every module name ``source`` (the text of ``module``) may import, relative imports made
    absolute; ``from a import b`` gives ``a`` and ``a.b``, as ``b`` may be a module."""
    here = module.split(".") if package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = here[: len(here) - node.level + 1]
                base = ".".join([*stem, base] if base else stem)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def scan(root: Path) -> dict[str, frozenset[str]]:
    """Module name → what it imports, for every module of the package at ``root``."""
    return {
        module_name(path, root): imported(
            path.read_text(encoding="utf-8"),
            module_name(path, root),
            package=path.name == "__init__.py",
        )
        for path in sorted(root.rglob("*.py"))
    }


def within(*prefixes: str) -> Callable[[str], bool]:
    """A test for a module name: is it one of ``prefixes`` or inside one of them."""
    return lambda name: any(name == p or name.startswith(f"{p}.") for p in prefixes)


def is_cli(name: str) -> bool:
    """hub.cli and the modules named after it (hub.cli.tokens, hub.cli.commands, ...)."""
    return any(part == "cli" or part.endswith("_cli") for part in name.split("."))


def is_bench(name: str) -> bool:
    """hub.bench.smev, hub.bench.floor, hub.bench.raw_amqp, ..."""
    return any(part.startswith("bench") for part in name.split(".")[1:])


def violations(
    imports: Imports,
    importers: Callable[[str], bool],
    forbidden: Callable[[str], bool],
) -> list[str]:
    """'importer -> imported' for each import of a forbidden module by a module of
    ``importers``."""
    return sorted(
        f"{module} -> {name}"
        for module, names in imports.items()
        if importers(module)
        for name in names
        if name.startswith("hub") and forbidden(name)
    )


LEAVES = within("hub.xml", "hub.crypto")
UPPER_LAYERS: Iterable[Callable[[str], bool]] = (
    within("hub.journal", "hub.routing", "hub.console", "hub.simulator"),
    is_cli,
    is_bench,
)


def leaf_violations(imports: Imports) -> list[str]:
    return violations(imports, LEAVES, lambda name: any(f(name) for f in UPPER_LAYERS))


# Parts of the CLI that still reach into hub.cli (issue 17 wants them to stop).
CLI_PARTS = within("hub.cli", "hub.__main__", "hub.cli.tokens", "hub.cli.protection",
                   "hub.cli.commands")  # fmt: skip


def cli_violations(imports: Imports) -> list[str]:
    return violations(imports, lambda module: not CLI_PARTS(module), within("hub.cli"))


SIMULATOR_USERS = within("hub.simulator", "hub.demo", "hub.cli")


def simulator_violations(imports: Imports) -> list[str]:
    users = lambda module: SIMULATOR_USERS(module) or is_bench(module)  # noqa: E731
    return violations(imports, lambda module: not users(module), within("hub.simulator"))


RULES = (leaf_violations, cli_violations, simulator_violations)


@pytest.fixture(scope="module")
def hub_imports() -> dict[str, frozenset[str]]:
    return scan(HUB)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_hub_keeps_the_rule(rule: Callable[[Imports], list[str]], hub_imports: Imports) -> None:
    assert rule(hub_imports) == []


def test_the_scan_sees_the_whole_package(hub_imports: Imports) -> None:
    # A scan that found nothing would pass every rule.
    assert {"hub.xml.parser", "hub.crypto.xmldsig", "hub.cli", "hub.demo"} <= set(hub_imports)
    assert "hub.simulator" in hub_imports["hub.demo"]


# --- the rules catch what they should, on sources written for the purpose ----------------

FORBIDDEN = [
    # (module, is a package, its source, the rule it breaks)
    ("hub.xml.parser", False, "from hub.journal.api import X", leaf_violations),
    ("hub.crypto.keys", False, "if TYPE_CHECKING:\n    import hub.routing.bus", leaf_violations),
    ("hub.crypto.backends.pure", False, "from ...console import app", leaf_violations),
    ("hub.xml", True, "from ..cli import app", leaf_violations),
    ("hub.crypto.keys", False, "def f():\n    from hub import bench_floor", leaf_violations),
    ("hub.xml.mtom", False, "from hub.access import cli", leaf_violations),
    ("hub.services.worker", False, "def f():\n    from hub.cli import _hub", cli_violations),
    ("hub.console.app", False, "import hub.cli", cli_violations),
    ("hub.services.worker", False, "from hub.simulator.world import World", simulator_violations),
    ("hub.journal", True, "from ..simulator import population", simulator_violations),
]


@pytest.mark.parametrize(("module", "package", "source", "rule"), FORBIDDEN)
def test_a_forbidden_import_breaks_its_rule(
    module: str,
    package: bool,
    source: str,
    rule: Callable[[Imports], list[str]],
    hub_imports: Imports,
) -> None:
    added = imported(source, module, package=package)
    broken = {**hub_imports, module: hub_imports.get(module, frozenset()) | added}
    found = rule(broken)
    assert found and all(violation.startswith(f"{module} -> hub.") for violation in found)
    assert rule({**hub_imports, module: hub_imports.get(module, frozenset())}) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("hub.xml.parser", "from hub.errors import PermanentError\nfrom . import mtom"),
        ("hub.cli.tokens", "def f():\n    from hub.cli import _hub"),
        ("hub.bench.e2e", "from hub.simulator import server"),
        ("hub.simulator.world", "from .population import Population"),
    ],
)
def test_allowed_imports_break_no_rule(module: str, source: str, hub_imports: Imports) -> None:
    broken = {**hub_imports, module: imported(source, module)}
    assert [rule(broken) for rule in RULES] == [[], [], []]


def test_relative_imports_are_made_absolute() -> None:
    assert imported("from ..journal import api", "hub.crypto.keys") == {
        "hub.journal",
        "hub.journal.api",
    }
    assert imported("from . import mtom", "hub.xml", package=True) == {"hub.xml", "hub.xml.mtom"}


def test_a_module_added_to_a_package_on_disk_is_scanned(tmp_path: Path) -> None:
    package = tmp_path / "hub"
    (package / "xml").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "xml" / "__init__.py").write_text("from .stray import x\n")
    (package / "xml" / "stray.py").write_text("from hub.simulator import world\n")
    assert leaf_violations(scan(package)) == [
        "hub.xml.stray -> hub.simulator",
        "hub.xml.stray -> hub.simulator.world",
    ]
