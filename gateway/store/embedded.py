"""A private PostgreSQL server in a directory of ours, for `motcua run` and the tests.

Uses the machine's own PostgreSQL binaries (PATH, /usr/lib/postgresql/*/bin) or, failing those, the ones
bundled in the `pgserver` wheel. PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` system user (or `nobody`). It listens on 127.0.0.1 only, with a generated password.
"""

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

SUPERUSER = "motcua"
_TOOLS = ("initdb", "pg_ctl", "postgres")


class EmbeddedPostgresError(RuntimeError):
    pass


def candidate_binary_dirs() -> list[Path]:
    """Where to look, best first: the machine's PostgreSQL, then the `pgserver` wheel's bundled build."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    # Located without importing it: importing pgserver has side effects we do not need.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    return candidates


def find_binaries(candidates: list[Path] | None = None) -> Path:
    for directory in candidates if candidates is not None else candidate_binary_dirs():
        if all((directory / tool).exists() for tool in _TOOLS):
            return directory
    raise EmbeddedPostgresError(
        "No PostgreSQL server binaries found (initdb, pg_ctl, postgres). Install the postgresql package, "
        "`pip install pgserver`, or set MOTCUA_DATABASE_URL to an existing server."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class _RunAs:
    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_current_user(cls) -> "_RunAs":
        if os.geteuid() != 0:
            return cls()
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                return cls(entry.pw_uid, entry.pw_gid)
        raise EmbeddedPostgresError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")

    def kwargs(self) -> dict:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


class EmbeddedPostgres:
    """`start()` initialises the directory on first use and starts the server; `stop()` stops it.

    The process that started the server owns it (its pid is in `pg-owner.pid`) and stops it on exit;
    another `motcua` command run meanwhile joins it, and a server whose owner was killed is adopted.
    """

    def __init__(
        self, base_dir: Path, *, port: int | None = None, durable: bool = True, bin_dir: Path | None = None
    ) -> None:
        self.base_dir = base_dir.resolve()
        self.pgdata = self.base_dir / "pg"
        self.password_file = self.base_dir / "pg-password"
        self.port = port or free_port()
        self.durable = durable  # tests trade crash safety of the server itself for speed
        self.bin = bin_dir or find_binaries()
        self.run_as = _RunAs.for_current_user()
        self.owner_file = self.base_dir / "pg-owner.pid"
        self._owned = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            **self.run_as.kwargs(),
        )
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def _check_reachable(self) -> None:
        """The server user must traverse every folder above pgdata; say which one it cannot."""
        if self.run_as.uid is None:
            return
        for folder in self.base_dir.parents:  # base_dir itself is ours: `_initialise` opens it next
            if not folder.stat().st_mode & 0o001:
                raise EmbeddedPostgresError(
                    f"{folder} is closed to other users, so PostgreSQL (run as uid {self.run_as.uid}, since "
                    "it refuses root) cannot reach its data: choose a data directory under open folders"
                )

    def _initialise(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._check_reachable()
        self.base_dir.chmod(0o755)  # the server user must be able to reach pgdata
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.run_as.own(self.pgdata)
        with tempfile.NamedTemporaryFile("w", dir=self.base_dir, delete=False) as pwfile:
            pwfile.write(password)
        try:
            os.chmod(pwfile.name, 0o600)
            self.run_as.own(Path(pwfile.name))
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile.name}",
                "-E",
                "UTF8",
                "--no-locale",
            )
        finally:
            os.unlink(pwfile.name)

    def _is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.pgdata), "status", check=False).returncode == 0

    def _running_port(self) -> int | None:
        """The port of a server already running on our pgdata, if any (line 4 of postmaster.pid)."""
        if not self._is_running():
            return None
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[3]) if len(lines) > 3 and lines[3].isdigit() else None

    def _owner_alive(self) -> bool:
        try:
            os.kill(int(self.owner_file.read_text()), 0)
            return True
        except (OSError, ValueError):
            return False

    def start(self) -> str:
        """Start the server (or join one another live process of ours started); return the admin URL."""
        if not (self.pgdata / "PG_VERSION").exists():
            self._initialise()
        running_port = self._running_port()
        if running_port is not None:
            self.port = running_port
            if self._owner_alive():
                log.info("embedded_postgres.joined", port=self.port, pgdata=str(self.pgdata))
                return self.url("postgres")
            # Left behind by a process that was killed before it could stop it: adopt it.
            log.warning("embedded_postgres.adopted", port=self.port, pgdata=str(self.pgdata))
            self._take_ownership()
            return self.url("postgres")
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories='{self.pgdata}'",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log_file = self.pgdata / "server.log"
        # Own session: a Ctrl-C on the terminal reaches us, and we stop the server in order.
        result = subprocess.run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(log_file),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            ],
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            start_new_session=True,
            **self.run_as.kwargs(),
        )
        if result.returncode != 0:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
            raise EmbeddedPostgresError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        self._take_ownership()
        log.info("embedded_postgres.started", port=self.port, pgdata=str(self.pgdata), binaries=str(self.bin))
        return self.url("postgres")

    def _take_ownership(self) -> None:
        self.owner_file.write_text(str(os.getpid()))
        self._owned = True

    def url(self, database: str) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server if this process owns it; a process that only joined leaves it running."""
        if self._owned and self._is_running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
            log.info("embedded_postgres.stopped", pgdata=str(self.pgdata))
        if self._owned:
            self.owner_file.unlink(missing_ok=True)
        self._owned = False
