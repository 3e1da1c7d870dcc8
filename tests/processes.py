"""`motcua` commands as real child processes, for the tests that crash, interrupt or restart them."""

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from gateway.store.embedded import free_port

MOTCUA = Path(sys.executable).parent / "motcua"


def motcua_env(**changes: str) -> dict[str, str]:
    """The test's environment without any MOTCUA_* setting of the caller's, plus `changes`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOTCUA_")}
    return {**env, "MOTCUA_LOG_JSON": "true", **changes}


def free_port_run(length: int) -> int:
    """A free port whose next `length - 1` ports are free too: `motcua run` puts the demo agency on the
    gateway's port + 1 and the portal simulator on + 2, and a random free port's neighbour is often some other
    test's ephemeral port."""
    while True:
        first = free_port()
        with contextlib.ExitStack() as held:
            try:
                for port in range(first + 1, first + length):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


class MotcuaProcess:
    """A serving `motcua` command (`serve`, `run`) on a free port, in its own session as a terminal starts
    it, with its output in a log file to show when a test fails."""

    def __init__(self, command: str, log: Path, env: dict[str, str], cwd: Path | None = None) -> None:
        self.command = command
        self.log = log
        self.env = env
        self.cwd = cwd
        self.base = ""
        self.process: asyncio.subprocess.Process | None = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    async def start(self, session: aiohttp.ClientSession, ready_within: float = 30) -> None:
        """Start on a fresh port and wait until /readyz answers 200."""
        port = free_port_run(3) if self.command == "run" else free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.env["MOTCUA_PORT"] = str(port)
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(MOTCUA),
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        async with asyncio.timeout(ready_within):
            while True:
                assert self.process.returncode is None, f"motcua {self.command} exited early:\n{self.tail()}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.base}/readyz") as ready:
                        if ready.status == 200:
                            return
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a power cut of the machine."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def interrupt(self, within: float = 20) -> int:
        """Ctrl-C; the exit status, which must come within `within` seconds."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(within):
            return await self.process.wait()

    async def stop(self) -> None:
        """Whatever state a test left it in: interrupt politely, then kill."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            await self.interrupt()
        with contextlib.suppress(ProcessLookupError):
            self.kill()
            await self.process.wait()


class WorkerProcess:
    """`motcua worker`: no HTTP port, so it is taken to be up once its log says `worker.started`."""

    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    async def start(self, ready_within: float = 20) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(MOTCUA),
                "worker",
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        async with asyncio.timeout(ready_within):
            while self.log.read_text(errors="replace").count("worker.started") < self.starts:
                assert self.process.returncode is None, f"motcua worker exited early:\n{self.tail()}"
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self.process.wait()
                return
        with contextlib.suppress(ProcessLookupError):
            await self.kill()
