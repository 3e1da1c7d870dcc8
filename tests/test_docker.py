"""The container files keep their promises: docker/Dockerfile builds a slim, non-root image that checks its own
health, and docker/compose.yaml starts every part in order, healthy, wired by service name, with no secret in it.

No Docker engine is needed: the files are read as data (PyYAML for the compose file). Where a Docker client with
the compose plugin is present, `docker compose config` validates the compose file as well.
"""

import importlib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway.cli import parser as motcua_parser
from gateway.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
COMPOSE_TEXT = COMPOSE_FILE.read_text(encoding="utf-8")
REQUIRED_VARIABLES = sorted(set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_TEXT)))
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")  # MOTCUA_SECRET_KEY, not MOTCUA_*_KEY_FILE
REQUIRED_INTERPOLATION = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: the compose file's structure is not read")
    return yaml.safe_load(COMPOSE_TEXT)


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _one_shots(services: dict) -> set[str]:
    """Services another one waits for with `service_completed_successfully`: they run once and exit."""
    return {
        name
        for service in services.values()
        for name, condition in (service.get("depends_on") or {}).items()
        if isinstance(condition, dict) and condition.get("condition") == "service_completed_successfully"
    }


def _port(service: dict) -> int | None:
    """The port a service's own command listens on (`--port N` or `--port=N`), if it names one."""
    match = re.search(r"--port[= ](\d+)", " ".join(service.get("command") or []))
    return int(match.group(1)) if match else None


def _url(value: str):
    """A URL from the compose file, its `${...}` interpolations replaced by a placeholder (they may hold `?`)."""
    return urlsplit(re.sub(r"\$\{[^}]*\}", "interpolated", value))


def _motcua_services(services: dict) -> dict[str, dict]:
    """Services that run the image's `motcua` entry point (those that do not replace it)."""
    return {name: s for name, s in services.items() if "build" in s and "entrypoint" not in s}


# --- Dockerfile ---------------------------------------------------------------------------------------------


def test_dockerfile_builds_in_stages_from_python_312_slim():
    """Every stage starts from python:3.12-slim, and the runtime stage copies the installed venv from the builder."""
    instructions = _instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2
    assert all(stage.split()[0] == "python:3.12-slim" for stage in stages)
    builder = stages[0].split()[-1]
    assert any(keyword == "COPY" and args.startswith(f"--from={builder} ") for keyword, args in instructions)


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck():
    """The image switches to an unprivileged USER and checks /healthz with Python's urllib (no curl in slim)."""
    instructions = _instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    healthchecks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0] and "urllib" in healthchecks[0] and "curl" not in healthchecks[0]


def test_dockerfile_serves_motcua_on_all_interfaces_by_default():
    """`motcua serve` is the default command, on 0.0.0.0:8080, with settings from the environment only."""
    instructions = _instructions()
    assert ("ENTRYPOINT", '["motcua"]') in instructions
    assert ("CMD", '["serve"]') in instructions
    assert ("EXPOSE", "8080") in instructions
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "MOTCUA_HOST=0.0.0.0" in env
    for keyword, args in instructions:
        if keyword == "COPY" and not args.startswith("--from"):
            assert not re.search(r"\.env\b|\.data", args), f"configuration baked into the image: {args}"


def test_dockerfile_installs_the_project_without_dev_extras_or_pgserver():
    """The project's packages are copied and installed from a wheel; no dev extras, and pgserver is left out."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "[dev]" not in text
    assert "startswith('pgserver')" in text
    copied = {args.split()[0] for keyword, args in _instructions() if keyword == "COPY" and not args.startswith("--")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"packages not copied into the builder: {packages - copied}"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY of a missing path: {source}"


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    """The build context never carries the venv, the embedded database, test artifacts, caches or .git."""
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".venv", ".data", "test-artifacts", ".git", ".pytest_cache", ".ruff_cache"} <= ignored


# --- compose.yaml -------------------------------------------------------------------------------------------


def test_every_service_is_health_checked_or_runs_once(compose):
    """Each long-lived service has a healthcheck; the others are one-shots (never restarted), and the migrations
    and the keys are waited for until they complete."""
    services = compose["services"]
    one_shots = {name for name, service in services.items() if service.get("restart") == "no"}
    assert {"migrate", "keys"} <= _one_shots(services) <= one_shots
    for name, service in services.items():
        if name in one_shots:
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        assert service.get("restart") == "unless-stopped", f"{name} is not restarted when it stops"


def test_start_order_database_then_migrations_then_gateway_and_workers(compose):
    """PostgreSQL must be healthy before the migrations run, and they must have succeeded before any gateway or
    worker starts."""
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("gateway", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["gateway"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["worker"]
    assert any(port.endswith(":8080") for port in services["gateway"]["ports"])
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_motcua_commands_exist(compose):
    """Every service that runs `motcua` gives it a command line the CLI accepts."""
    parser = motcua_parser()
    for name, service in _motcua_services(compose["services"]).items():
        try:
            parser.parse_args(service["command"])
        except SystemExit:
            pytest.fail(f"{name}: `motcua {' '.join(service['command'])}` is not a motcua command")


def test_simulators_run_their_command_line_entry_points(compose):
    """The four simulators run as `python -m <module>` of a module with a `main`, and check their own port."""
    services = compose["services"]
    simulators = {name: s for name, s in services.items() if s.get("entrypoint") == ["python"]}
    modules = {s["command"][1] for s in simulators.values()}
    assert modules == {
        "identity.simulator",
        "adapters.postal.simulator",
        "adapters.dvcqg.simulator",
        "adapters.agency.simulator",
    }
    for name, service in simulators.items():
        assert service["command"][0] == "-m"
        assert callable(getattr(importlib.import_module(service["command"][1]), "main", None)), name
        assert "0.0.0.0" in " ".join(service["command"]), f"{name} listens on its loopback only"
        port = _port(service)
        assert port and f"127.0.0.1:{port}/" in " ".join(service["healthcheck"]["test"]), name


def test_gateway_reaches_the_simulators_by_service_name(compose):
    """Every MOTCUA_*_URL the gateway is given names a compose service and the port that service listens on."""
    services = compose["services"]
    environment = services["gateway"]["environment"]
    urls = {key: value for key, value in environment.items() if key.endswith("_URL") and key != "MOTCUA_PUBLIC_URL"}
    assert {"MOTCUA_IDENTITY_URL", "MOTCUA_POSTAL_URL", "MOTCUA_DVCQG_URL", "MOTCUA_DATABASE_URL"} <= set(urls)
    for key, value in urls.items():
        parts = _url(value)
        assert parts.hostname in services, f"{key} points at {parts.hostname}, which is no service"
        if key != "MOTCUA_DATABASE_URL":
            assert parts.port == _port(services[parts.hostname]), key


def test_environment_names_only_real_settings(compose):
    """Every MOTCUA_* variable handed to a motcua process is a setting the gateway reads (no typo goes unnoticed)."""
    settings = {f"MOTCUA_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        unknown = {key for key in environment if key.startswith("MOTCUA_")} - settings
        assert not unknown, f"{name}: not settings: {unknown}"


def test_key_files_live_on_mounted_volumes(compose):
    """The key and certificate paths given to the gateway and the workers are under a volume they mount."""
    for name in ("gateway", "worker"):
        service = compose["services"][name]
        mounts = [volume.split(":")[1] for volume in service["volumes"]]
        environment = service["environment"]
        paths = [environment["MOTCUA_DELIVERY_KEY_FILE"], environment["MOTCUA_IDENTITY_KEY_FILE"]]
        paths += [environment["MOTCUA_IDENTITY_CERT_FILE"], environment["MOTCUA_DOCUMENTS_DIR"]]
        paths += re.findall(r'"([^"]+)"', environment["MOTCUA_IDENTITY_TRUSTED_CERTS"])
        for path in paths:
            assert any(path.startswith(mount + "/") or path == mount for mount in mounts), f"{name}: {path}"


def test_no_secret_is_written_in_the_compose_file(compose):
    """Passwords, secrets, tokens and keys are required variables (`${NAME:?…}`) or passed through from the
    operator's environment, never literal values."""
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and value is not None:  # None: passed through from the operator's env
                assert isinstance(value, str) and REQUIRED_INTERPOLATION.match(value), f"{name}: {key} is literal"
            if key == "MOTCUA_DATABASE_URL":
                assert re.match(r"^postgresql://motcua:\$\{POSTGRES_PASSWORD:\?[^}]+\}@", value), f"{name}: {key}"
        for argument in service.get("command") or []:
            option, _, value = str(argument).partition("=")
            if re.search(r"password|secret", option):
                assert REQUIRED_INTERPOLATION.match(value), f"{name}: {option} is literal"
            elif option.endswith("-key"):
                assert value.startswith("${"), f"{name}: {option} is literal"
    assert {"POSTGRES_PASSWORD", "MOTCUA_SECRET_KEY"} <= set(REQUIRED_VARIABLES)


def test_operations_guide_names_every_required_variable():
    """docs/operations.md tells the operator every variable compose refuses to start without."""
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [name for name in REQUIRED_VARIABLES if name not in guide]
    assert not missing, f"not in docs/operations.md: {missing}"


# --- docker compose config, where the client is here ----------------------------------------------------------


def _compose_client() -> str | None:
    """Why `docker compose` cannot be used here, or None when it can."""
    if shutil.which("docker") is None:
        return "no Docker client with the compose plugin here (no `docker` on PATH)"
    try:
        version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Docker client with the compose plugin here ({exc})"
    if version.returncode != 0:
        return "no Docker client with the compose plugin here (`docker compose version` failed)"
    return None


def test_docker_compose_accepts_the_file_and_refuses_missing_secrets():
    """`docker compose config` validates the file once the required variables are set, and refuses without one."""
    reason = _compose_client()
    if reason:
        print(reason)
        pytest.skip(reason)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MOTCUA_", "POSTGRES_"))}
    env |= {name: f"test-value-{name.lower()}-0123456789abcdef0123456789" for name in REQUIRED_VARIABLES}
    command = ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"]
    accepted = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert accepted.returncode == 0, accepted.stderr
    without = {key: value for key, value in env.items() if key != "MOTCUA_SECRET_KEY"}
    refused = subprocess.run(command, capture_output=True, text=True, env=without, cwd=ROOT, timeout=60)
    assert refused.returncode != 0 and "MOTCUA_SECRET_KEY" in refused.stderr
