"""Which parts of hub/ may import which, read from the source with ``ast`` (no module is run),
so that the layers the folders show cannot drift apart unnoticed. Every import counts:
function-local ones and those under ``TYPE_CHECKING`` too.

- The pure leaves ``hub.canonical``, ``hub.xml``, ``hub.crypto`` and ``hub.smev`` import nothing
  of the journal, the routing, the services, the console, the CLI, the benches or the simulator.
- Nothing imports ``hub.cli`` but the CLI itself and ``hub/__main__.py``.
- Only the composition root (``hub.bootstrap``) and the entry points (the CLI, the console, the
  demo, the benches) import ``hub.services``; services may use each other.
- ``hub.simulator`` is imported only by itself, the demo, the benches and the CLI (tests may
  import anything: they are not scanned).
- No import cycles among the modules of hub/.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Callable, Mapping
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


LEAVES = within("hub.canonical", "hub.xml", "hub.crypto", "hub.smev")
UPPER_LAYERS = within(
    "hub.journal",
    "hub.routing",
    "hub.services",
    "hub.console",
    "hub.cli",
    "hub.bench",
    "hub.simulator",
)
CLI = within("hub.cli", "hub.__main__")
SERVICE_USERS = within(
    "hub.services", "hub.bootstrap", "hub.cli", "hub.console", "hub.demo", "hub.bench"
)
SIMULATOR_USERS = within("hub.simulator", "hub.demo", "hub.cli", "hub.bench")


def leaf_violations(imports: Imports) -> list[str]:
    return violations(imports, LEAVES, UPPER_LAYERS)


def cli_violations(imports: Imports) -> list[str]:
    return violations(imports, lambda module: not CLI(module), within("hub.cli"))


def service_violations(imports: Imports) -> list[str]:
    return violations(imports, lambda module: not SERVICE_USERS(module), within("hub.services"))


def simulator_violations(imports: Imports) -> list[str]:
    return violations(imports, lambda module: not SIMULATOR_USERS(module), within("hub.simulator"))


def cycle_violations(imports: Imports) -> list[str]:
    """The modules of an import cycle, if there is one, as 'a -> b -> ... -> a'."""
    try:
        graphlib.TopologicalSorter(_module_graph(imports)).prepare()
    except graphlib.CycleError as exc:
        return [" -> ".join(exc.args[1])]
    return []


def _module_graph(imports: Imports) -> dict[str, set[str]]:
    # ``from a import b`` names both a and a.b; when a.b is a module, only a.b is imported
    # (a's __init__ runs too, but a package's __init__ importing its parts is no cycle).
    graph: dict[str, set[str]] = {}
    for module, names in imports.items():
        found = {name for name in names if name in imports and name != module}
        parents = {name.rpartition(".")[0] for name in found}
        graph[module] = found - (parents - {n for n in found if n not in parents})
    return graph


RULES = (
    leaf_violations,
    cli_violations,
    service_violations,
    simulator_violations,
    cycle_violations,
)


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
    ("hub.crypto.keys", False, "def f():\n    from hub.bench import floor", leaf_violations),
    ("hub.canonical.events", False, "from hub.journal.api import Journal", leaf_violations),
    ("hub.smev.read", False, "from hub.services import smev_client", leaf_violations),
    ("hub.services.worker", False, "def f():\n    from hub.cli import _common", cli_violations),
    ("hub.adapters.zags.handlers", False, "from hub.services import worker", service_violations),
    ("hub.journal.sql", False, "def f():\n    import hub.services.relay", service_violations),
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
        ("hub.xml.mtom", "from hub.errors import PermanentError\nfrom . import parser"),
        ("hub.cli.tokens", "from hub.cli import _common"),
        ("hub.__main__", "from hub.cli.main import app"),
        ("hub.console.pages", "from hub.services import operations"),
        ("hub.bench.e2e", "from hub.simulator import server"),
        ("hub.simulator.world", "from .population import Population"),
    ],
)
def test_allowed_imports_break_no_rule(module: str, source: str, hub_imports: Imports) -> None:
    broken = {**hub_imports, module: imported(source, module)}
    assert [rule(broken) for rule in RULES] == [[]] * len(RULES)


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


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("hub.canonical.bounds", "from hub.canonical import events"),
        ("hub.journal.lease", "if TYPE_CHECKING:\n    from hub.journal.sql import SqlJournal"),
        ("hub.xml.parser", "def f():\n    from hub.xml import xsd"),
    ],
)
def test_an_import_closing_a_loop_is_a_cycle(
    module: str, source: str, hub_imports: Imports
) -> None:
    assert cycle_violations(hub_imports) == []
    added = hub_imports[module] | imported(source, module)
    [cycle] = cycle_violations({**hub_imports, module: added})
    assert module in cycle.split(" -> ")
