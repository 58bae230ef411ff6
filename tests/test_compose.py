"""docker-compose.yml and the Dockerfile, checked without Docker: every hub command a service
or health check runs is a real command of ``hub`` with real options and valid values, every
``HUB_`` setting passed is one the hub reads (and valid), every dependency exists.

The checkers are tested on broken snippets too, so a wrong file cannot pass unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import ValidationError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from hub.cli.main import app
from hub.config import Settings

pytestmark = pytest.mark.unit

PROJECT = Path(__file__).resolve().parents[1]
HUB_IMAGE = "hub:latest"
KNOWN_VARIABLES = {f"HUB_{name.upper()}" for name in Settings.model_fields}
SCHEMAS_DIR_VARIABLE = "HUB_SCHEMAS_DIR"  # Settings.schemas_dir: where the image copies schemas/
# ${NAME}, ${NAME:-default}, ${NAME-default}: what compose puts there when NAME is unset.
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


# --- the compose checker ---------------------------------------------------------------


def load_compose(text: str) -> dict[str, Any]:
    """The file as compose sees it: YAML with the ``x-hub`` anchors' merge keys resolved."""
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def command_problems(args: list[str]) -> list[str]:
    """Why ``hub *args`` would not start: no such command, unknown option, invalid value."""
    # typer's own (vendored) click: its groups and usage errors, not the click package's.
    command: Any = typer.main.get_command(app)
    path, rest = ["hub"], list(args)
    while isinstance(command, TyperGroup):
        if not rest or rest[0] not in command.commands:
            return [f"`{' '.join([*path, *rest[:1]])}` is no hub command"]
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    try:
        command.make_context(" ".join(path), rest)
    except TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return [f"`{' '.join(path + rest)}`: {message}"]
    return []


def is_hub_service(service: Mapping[str, Any]) -> bool:
    return "build" in service or service.get("image") == HUB_IMAGE


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's variables (mapping or ``KEY=VALUE`` list), interpolated with defaults."""
    raw = service.get("environment") or {}
    pairs = dict(item.partition("=")[::2] for item in raw) if isinstance(raw, list) else raw
    return {k: _INTERPOLATION.sub(lambda m: m["default"] or "", str(v)) for k, v in pairs.items()}


def settings_problems(name: str, variables: Mapping[str, str]) -> list[str]:
    """Unknown ``HUB_`` variables, and values the hub's settings refuse."""
    ours = {k: v for k, v in variables.items() if k.startswith("HUB_")}
    problems = [f"{name}: {k} is no hub setting" for k in sorted(ours) if k not in KNOWN_VARIABLES]
    fields = {
        k[4:].lower(): _as_from_environment(v)
        for k, v in ours.items()
        if k[4:].lower() in Settings.model_fields
    }
    try:
        Settings(_env_file=None, **fields)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems += [f"{name}: HUB_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors()]
    return problems


def _as_from_environment(value: str) -> Any:
    # pydantic-settings reads a list or mapping setting from the environment as JSON; given
    # to Settings() directly, the text would be refused as no list.
    if value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def hub_service_problems(name: str, service: Mapping[str, Any]) -> list[str]:
    problems = []
    if service.get("entrypoint") not in (None, ["hub"]):
        problems.append(f"{name}: the entrypoint is not hub")
    command = service.get("command")
    if not isinstance(command, list):
        problems.append(f"{name}: command must be a list of hub's arguments")
    else:
        problems += [f"{name}: {p}" for p in command_problems([str(a) for a in command])]
    return problems + healthcheck_problems(name, service.get("healthcheck"))


def healthcheck_problems(name: str, check: Mapping[str, Any] | None) -> list[str]:
    if check is None or check.get("disable"):
        return []
    test = check.get("test")
    if not isinstance(test, list) or test[:2] != ["CMD", "hub"]:
        return [f"{name}: the health check must be [CMD, hub, ...], not {test!r}"]
    return [f"{name} health check: {p}" for p in command_problems([str(a) for a in test[2:]])]


def dependency_problems(name: str, service: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    wanted = service.get("depends_on") or []
    return [f"{name}: depends on unknown service {d}" for d in wanted if d not in set(names)]


def simulator_problems(name: str, service: Mapping[str, Any]) -> list[str]:
    command = service.get("command") or []
    if command[:2] == ["simulator", "serve"] and "simulator" not in service.get("profiles", []):
        return [f"{name}: the simulator must be under the profile 'simulator'"]
    return []


def compose_problems(compose: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a compose file, as far as the hub can tell without Docker."""
    services: Mapping[str, Any] = compose.get("services") or {}
    problems = [] if services else ["no services"]
    for name, service in services.items():
        problems += dependency_problems(name, service, services)
        problems += settings_problems(name, environment(service))
        problems += simulator_problems(name, service)
        if is_hub_service(service):
            problems += hub_service_problems(name, service)
    return problems


# --- the Dockerfile checker ------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        keyword, _, arguments = line.strip().partition(" ")
        if keyword:
            found.append((keyword.upper(), arguments.strip()))
    return found


def env_pairs(arguments: str) -> dict[str, str]:
    """``ENV K=V K2=V2`` or the old ``ENV K V``."""
    if "=" not in arguments.split(" ", 1)[0]:
        key, _, value = arguments.partition(" ")
        return {key: value.strip()}
    return dict(pair.partition("=")[::2] for pair in arguments.split())


def copied(found: list[tuple[str, str]]) -> dict[str, str]:
    """Each COPY source and where it lands (relative to the WORKDIR in force)."""
    workdir, places = "/", {}
    for keyword, arguments in found:
        if keyword == "WORKDIR":
            workdir = arguments
        elif keyword == "COPY" and not arguments.startswith("--"):
            *sources, target = arguments.split()
            for source in sources:
                places[source.rstrip("/")] = os.path.normpath(os.path.join(workdir, target))
    return places


def dockerfile_problems(text: str) -> list[str]:
    found = instructions(text)
    users = [arguments for keyword, arguments in found if keyword == "USER"]
    problems = [] if users and users[-1] not in ("root", "0") else ["it runs as root"]
    installs = " ".join(arguments for keyword, arguments in found if keyword == "RUN")
    if not re.search(r"apt-get install[^&]*\blibengine-gost-openssl\b", installs):
        problems.append("it does not install libengine-gost-openssl")
    places = copied(found)
    problems += [f"it does not COPY {s}" for s in ("hub", "schemas") if s not in places]
    variables: dict[str, str] = {}
    for keyword, arguments in found:
        if keyword == "ENV":
            variables |= env_pairs(arguments)
    problems += settings_problems("Dockerfile", variables)
    if "schemas" in places and variables.get(SCHEMAS_DIR_VARIABLE) != places["schemas"]:
        problems.append(f"{SCHEMAS_DIR_VARIABLE} is not where schemas/ is copied")
    return problems


# --- the project's files -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose((PROJECT / "docker-compose.yml").read_text("utf-8"))


def test_the_compose_file_has_no_problems(compose: dict[str, Any]) -> None:
    assert compose_problems(compose) == []


def test_every_process_of_the_hub_is_a_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: tuple(s.get("command", ())) for name, s in services.items()}
    assert {"postgres", "rabbitmq", "simulator"} <= set(services)
    for wanted in [("db", "upgrade"), ("topology", "declare"), ("worker",), ("relay",)]:
        assert wanted in commands.values(), wanted
    assert ("smev-client",) in commands.values()
    assert services["worker"]["deploy"]["replicas"] == 2


def test_hub_services_share_the_anchor(compose: dict[str, Any]) -> None:
    # Merge keys resolved: each hub service has the database, broker and SMEV settings.
    for name, service in compose["services"].items():
        if is_hub_service(service):
            variables = environment(service)
            assert {"HUB_DATABASE_URL", "HUB_BROKER_URL", "HUB_SMEV_ENDPOINT"} <= set(variables)
            assert variables["HUB_REFERENCE_DIR"] == "/shared", name
            assert any(v.endswith(":/shared:ro") for v in service["volumes"]), name


def test_smev_points_at_the_simulator_unless_overridden(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["environment"]["HUB_SMEV_ENDPOINT"].startswith("${HUB_SMEV_ENDPOINT:-")
    assert environment(worker)["HUB_SMEV_ENDPOINT"] == "http://simulator:8080/smev/1.3"
    simulator = compose["services"]["simulator"]
    assert "--port" in simulator["command"] and "8080" in simulator["command"]


def test_health_checks_run_on_every_long_running_hub_service(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if is_hub_service(service) and service.get("restart") != "no":
            assert service["healthcheck"]["test"][:3] == ["CMD", "hub", "health"], name
    checks = {n: compose["services"][n]["healthcheck"]["test"] for n in ("postgres", "rabbitmq")}
    assert "pg_isready" in " ".join(checks["postgres"])
    assert "rabbitmq-diagnostics" in checks["rabbitmq"]


def test_every_hub_service_writes_its_metrics_where_the_console_reads_them(
    compose: dict[str, Any],
) -> None:
    # The console's /metrics adds up the files of every process in HUB_METRICS_DIR.
    assert "metrics" in compose["volumes"]
    for name in ("worker", "relay", "smev-client", "console"):
        service = compose["services"][name]
        folder = service["environment"]["HUB_METRICS_DIR"]
        assert f"metrics:{folder}" in service["volumes"], name


def test_the_dockerfile_has_no_problems() -> None:
    assert dockerfile_problems((PROJECT / "Dockerfile").read_text("utf-8")) == []


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    lines = (PROJECT / ".dockerignore").read_text("utf-8").splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert {".git", ".venv", "var", ".env"} <= set(ignored)
    dockerfile = (PROJECT / "Dockerfile").read_text("utf-8")
    copied = [s for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M) for s in line.split()]
    assert copied, "the Dockerfile copies nothing?"
    for source in copied:
        assert not [p for p in ignored if fnmatch(source, p)], f"{source} is left out"
        assert (PROJECT / source).exists(), source


# --- the checkers on broken files ----------------------------------------------------------

GOOD = """
x-hub: &hub
  image: hub:latest
  environment:
    HUB_DATABASE_URL: sqlite:///x.db
services:
  db:
    image: postgres:15
  worker:
    <<: *hub
    command: ["worker"]
    depends_on: [db]
    healthcheck:
      test: ["CMD", "hub", "health", "--check", "database"]
  simulator:
    <<: *hub
    profiles: [simulator]
    command: ["simulator", "serve", "--port", "8080", "--open"]
"""


def broken(old: str, new: str) -> list[str]:
    assert old in GOOD
    return compose_problems(load_compose(GOOD.replace(old, new, 1)))


def test_the_good_snippet_passes() -> None:
    assert compose_problems(load_compose(GOOD)) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('["worker"]', '["wroker"]', "`hub wroker` is no hub command"),
        ('["worker"]', '["topology"]', "`hub topology` is no hub command"),
        ('["worker"]', '["topology", "delete"]', "`hub topology delete` is no hub command"),
        ('"--port", "8080"', '"--prot", "8080"', "No such option: --prot"),
        ('"--port", "8080"', '"--port", "eighty"', "Invalid value for '--port'"),
        ('"--port", "8080"', '"--port", "99999"', "less than or equal to 65535"),
        ('"--open"]', '"--open", "extra"]', "unexpected extra argument"),
        ('"--check", "database"', '"--check", "database", "--maxage", "5"', "No such option"),
        ('"hub", "health"', '"hub", "helth"', "worker health check: `hub helth` is no hub"),
        ('["CMD", "hub"', '["CMD-SHELL", "hub"', "must be [CMD, hub, ...]"),
        ("HUB_DATABASE_URL: sqlite", "HUB_DATABSE_URL: sqlite", "HUB_DATABSE_URL is no hub"),
        ("environment:\n", "environment:\n    HUB_LOG_FORMAT: xml\n", "HUB_LOG_FORMAT: Input"),
        ("depends_on: [db]", "depends_on: [postgres]", "depends on unknown service postgres"),
        ("profiles: [simulator]", "profiles: [tools]", "must be under the profile 'simulator'"),
        ('command: ["worker"]', 'command: "worker"', "command must be a list"),
        ("depends_on: [db]", 'depends_on: [db]\n    entrypoint: ["sh"]', "entrypoint is not hub"),
    ],
)
def test_the_checker_finds_what_is_wrong(old: str, new: str, expected: str) -> None:
    problems = broken(old, new)
    assert any(expected in problem for problem in problems), problems


def test_a_variable_in_a_list_environment_is_checked() -> None:
    problems = broken(
        "environment:\n    HUB_DATABASE_URL: sqlite:///x.db",
        'environment: ["HUB_DATABASE_URL=sqlite:///x.db", "HUB_NO_SUCH=1"]',
    )
    assert problems == [
        f"{name}: HUB_NO_SUCH is no hub setting" for name in ("worker", "simulator")
    ]


def test_interpolation_defaults_are_checked_as_values() -> None:
    problems = broken("HUB_DATABASE_URL: sqlite", "HUB_SMEV_ENDPOINT: ${X:-ftp://no}\n    HUB_A: s")
    assert any("HUB_SMEV_ENDPOINT: String should match pattern" in p for p in problems), problems


GOOD_DOCKERFILE = """FROM python:3.11-slim-bookworm
RUN apt-get update \\
    && apt-get install -y --no-install-recommends libengine-gost-openssl
WORKDIR /app
COPY hub ./hub
COPY schemas ./schemas
ENV HUB_SCHEMAS_DIR=/app/schemas \\
    HUB_REFERENCE_DIR=/shared
USER hub
ENTRYPOINT ["hub"]
"""


def test_the_good_dockerfile_passes() -> None:
    assert dockerfile_problems(GOOD_DOCKERFILE) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("USER hub", "USER root", "it runs as root"),
        ("USER hub", "# USER hub", "it runs as root"),
        ("libengine-gost-openssl", "openssl", "does not install libengine-gost-openssl"),
        ("COPY schemas ./schemas", "COPY var ./var", "does not COPY schemas"),
        ("COPY hub ./hub", "", "does not COPY hub"),
        ("HUB_REFERENCE_DIR=/shared", "HUB_REFERENSE_DIR=/shared", "HUB_REFERENSE_DIR is no"),
        ("HUB_SCHEMAS_DIR=/app/schemas", "HUB_SCHEMAS_DIR=/schemas", "not where schemas/ is"),
        ("ENV HUB_SCHEMAS_DIR=/app/schemas", "ENV HUB_LOG_LEVEL LOUD\nENV X=1", "unknown log"),
    ],
)
def test_the_dockerfile_checker_finds_what_is_wrong(old: str, new: str, expected: str) -> None:
    assert old in GOOD_DOCKERFILE
    problems = dockerfile_problems(GOOD_DOCKERFILE.replace(old, new, 1))
    assert any(expected in problem for problem in problems), problems


# --- HUB_SCHEMAS_DIR: what the image relies on ---------------------------------------------


def schema_dirs(env: dict[str, str]) -> list[str]:
    """The folders a hub started with ``env`` reads its own schemas from: those its start-up
    check needs (Gosuslugi's and ZAGS's) and the one Gosuslugi's intake gate was made with."""
    code = (
        "from hub.adapters.gosuslugi.schemas import APPLICATION\n"
        "from hub.bootstrap import bootstrap\n"
        "from hub.preflight import own_schemas\n"
        "hub = bootstrap()\n"
        "folders = sorted({str(p.parent) for p in own_schemas(hub.settings.schemas_dir)})\n"
        "print('folders:', *folders, hub.router.gates[APPLICATION].path.parent)\n"
    )
    clean = {k: v for k, v in os.environ.items() if k != SCHEMAS_DIR_VARIABLE}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=True,
        cwd="/",
    )
    # The gates' log lines (an official schema absent from "/") go to stdout too.
    [line] = [line for line in result.stdout.splitlines() if line.startswith("folders: ")]
    return line.split()[1:]


def test_the_adapters_find_schemas_where_the_setting_says(tmp_path: Path) -> None:
    project = PROJECT / "schemas"
    assert schema_dirs({}) == [str(project / a) for a in ("gosuslugi", "zags", "gosuslugi")]
    moved = tmp_path / "schemas"
    assert schema_dirs({SCHEMAS_DIR_VARIABLE: str(moved)}) == [
        str(moved / a) for a in ("gosuslugi", "zags", "gosuslugi")
    ]


def test_a_dot_env_file_moves_the_schemas_too(tmp_path: Path) -> None:
    # HUB_SCHEMAS_DIR is a setting like any other: read from .env as well as the environment.
    moved = tmp_path / "schemas"
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"{SCHEMAS_DIR_VARIABLE}={moved}\n", encoding="utf-8")
    assert Settings(_env_file=dotenv).schemas_dir == moved  # type: ignore[call-arg]
