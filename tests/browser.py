"""A small driver for headless Chromium over the Chrome DevTools Protocol, on aiohttp alone (no playwright,
selenium or pyppeteer): enough to load the server-rendered pages, fill and post a form, look at the result and
keep screenshots."""

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

TIMEOUT = 20.0  # seconds, for every wait: a hung browser fails the test instead of stalling the run
FLAGS = [
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
    *("--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"),
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
]
INSTALL_HINT = "run scripts/ensure-chromium (Debian: apt-get install chromium) or set MOTCUA_CHROMIUM"


class CdpError(RuntimeError):
    """Chromium answered a command with an error, did not answer in time, or went away."""


def chromium_path() -> str | None:
    """MOTCUA_CHROMIUM if set (None when it names no executable: a wrong setting must not fall back silently),
    else the first Chromium on PATH."""
    if configured := os.environ.get("MOTCUA_CHROMIUM"):
        return shutil.which(configured)
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def require_chromium() -> str:
    """Chromium's path; else skip the test, or fail it under CI so that CI cannot skip browser checks silently."""
    if path := chromium_path():
        return path
    reason = f"no Chromium found ({INSTALL_HINT})"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


class Page:
    """One tab, driven over its own websocket; a reader task answers commands and records events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()  # notified after every event, for waits on the state below
        self._closed: str | None = None
        self.main_frame = ""
        self.statuses: dict[str, int] = {}  # loaderId -> HTTP status, for the main frame's documents
        self.loaded: set[str] = set()  # loaderIds whose main-frame document fired its load event
        self.requested_urls: list[str] = []
        self.console_errors: list[str] = []
        self.exceptions: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _start(self) -> None:
        for domain in ("Page", "Network", "Runtime"):
            await self.send(f"{domain}.enable")
        # Lifecycle events carry the loaderId, unlike Page.loadEventFired: a late load of the initial about:blank
        # or of the page before a form post cannot be mistaken for the load of the page we navigated to.
        await self.send("Page.setLifecycleEventsEnabled", {"enabled": True})
        # Chromium 156 drops the classic 15 px scrollbar after a captureBeyondViewport screenshot, changing the
        # layout (and the next screenshot's width): without scrollbars, pages lay out the same before and after.
        await self.send("Emulation.setScrollbarsHidden", {"hidden": True})
        self.main_frame = (await self.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    data = json.loads(message.data)
                    if "id" in data:
                        self._answer(data)
                    else:
                        self._record(data["method"], data.get("params", {}))
                        async with self._changed:
                            self._changed.notify_all()
        except Exception as error:
            self._closed = f"the driver's reader failed: {error!r}"
            raise
        finally:
            self._closed = self._closed or "the DevTools connection closed (did Chromium crash?)"
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CdpError(self._closed))
            async with self._changed:
                self._changed.notify_all()  # wakes the waits, which then fail with self._closed

    def _answer(self, data: dict[str, Any]) -> None:
        future = self._pending.get(data["id"])
        if future is None or future.done():
            return  # its sender timed out
        if "error" in data:
            future.set_exception(CdpError(f"{data['error'].get('message')} ({data['error']})"))
        else:
            future.set_result(data.get("result", {}))

    def _record(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.requestWillBeSent":
            self.requested_urls.append(params["request"]["url"])
        elif method == "Network.responseReceived":
            if params.get("type") == "Document" and params.get("frameId") == self.main_frame:
                self.statuses[params["loaderId"]] = params["response"]["status"]
        elif method == "Page.lifecycleEvent":
            if params["name"] == "load" and params["frameId"] == self.main_frame:
                self.loaded.add(params["loaderId"])
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            self.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.exceptions.append(details.get("exception", {}).get("description") or details["text"])

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a CDP command and return its result; CdpError if Chromium refuses it or does not answer."""
        if self._closed:
            raise CdpError(f"{method}: {self._closed}")
        command_id = next(self._ids)
        future = self._pending[command_id] = asyncio.get_running_loop().create_future()
        try:
            await self._ws.send_str(json.dumps({"id": command_id, "method": method, "params": params or {}}))
            async with asyncio.timeout(TIMEOUT):
                return await future
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {TIMEOUT} s") from None
        finally:
            del self._pending[command_id]

    async def _load(self, what: str, wanted: Callable[[str], bool]) -> int:
        """Wait for a main-frame document whose loaderId is `wanted` to have loaded; its HTTP status."""

        def status() -> int | None:
            return next((s for loader, s in self.statuses.items() if wanted(loader) and loader in self.loaded), None)

        try:
            async with asyncio.timeout(TIMEOUT), self._changed:
                await self._changed.wait_for(lambda: status() is not None or self._closed is not None)
        except TimeoutError:
            raise CdpError(f"{what}: not loaded within {TIMEOUT} s") from None
        if (result := status()) is None:
            raise CdpError(f"{what}: {self._closed}")
        return result

    async def set_viewport(self, width: int, height: int, *, mobile: bool = False, scale: float = 1) -> None:
        metrics = {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}
        await self.send("Emulation.setDeviceMetricsOverride", metrics)
        touch: dict[str, Any] = {"enabled": mobile, "maxTouchPoints": 5} if mobile else {"enabled": False}
        await self.send("Emulation.setTouchEmulationEnabled", touch)

    async def emulate_media(self, media: str) -> None:
        """CSS media type, e.g. "print" for @media print rules ("" to stop emulating)."""
        await self.send("Emulation.setEmulatedMedia", {"media": media})

    async def goto(self, url: str) -> int:
        """Load `url` and wait for its load event; the document's HTTP status."""
        navigation = await self.send("Page.navigate", {"url": url})
        if error := navigation.get("errorText"):
            raise CdpError(f"navigating to {url}: {error}")
        return await self._load(f"navigating to {url}", lambda loader: loader == navigation["loaderId"])

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (promises awaited); CdpError if it throws."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        answer = await self.send("Runtime.evaluate", params)
        if details := answer.get("exceptionDetails"):
            thrown = details.get("exception", {}).get("description") or details["text"]
            raise CdpError(f"{expression!r} threw: {thrown}")
        return answer["result"].get("value")

    async def _on(self, selector: str, statement: str) -> None:
        """Run `statement` with `e` bound to the element `selector` matches; CdpError if none does."""
        quoted = json.dumps(selector)
        found = f"const e = document.querySelector({quoted}); if (!e) throw new Error('nothing matches ' + {quoted});"
        await self.evaluate(f"(() => {{ {found} {statement} }})()")

    async def fill(self, selector: str, value: str) -> None:
        """Set a field's value as typing would, events included (scripts listening to them see the change)."""
        events = "for (const t of ['input', 'change']) e.dispatchEvent(new Event(t, {bubbles: true}));"
        await self._on(selector, f"e.value = {json.dumps(value)}; {events}")

    async def click_and_wait(self, selector: str) -> int:
        """Click an element that navigates (a form's submit button) and wait for the new page's load event; its
        HTTP status (after redirects)."""
        before = set(self.statuses)
        await self._on(selector, "e.click();")
        return await self._load(f"clicking {selector}", lambda loader: loader not in before)

    async def text(self) -> str:
        return await self.evaluate("document.body.innerText")

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the viewport, or of the whole page (beyond the viewport) when `full_page`."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            # cssContentSize is in CSS pixels, as the clip is (contentSize is device pixels, so off when scale != 1).
            size = (await self.send("Page.getLayoutMetrics"))["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params |= {"captureBeyondViewport": True, "clip": clip}
        png = base64.b64decode((await self.send("Page.captureScreenshot", params))["data"])
        await asyncio.to_thread(path.write_bytes, png)
        return path

    async def close(self) -> None:
        self._closed = "the page was closed"
        await self._ws.close()
        await self._reader


class Browser:
    """A running Chromium; open tabs with `new_page`."""

    def __init__(self, port: int, session: aiohttp.ClientSession) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self._session = session
        self._pages: list[Page] = []

    async def new_page(self) -> Page:
        async with self._session.put(f"{self.endpoint}/json/new?about:blank") as answer:  # GET refused since 111
            answer.raise_for_status()
            target = await answer.json()
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        ws = await self._session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0, timeout=timeout)
        page = Page(ws)
        self._pages.append(page)
        await page._start()
        return page

    async def close_pages(self) -> None:
        for page in self._pages:
            await page.close()


def _tail(log: Path, lines: int = 15) -> str:
    # Without a D-Bus, Chromium logs a dozen harmless dbus errors: leave them out so the real cause shows.
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "\n".join([line for line in text if ":ERROR:dbus/" not in line][-lines:]) or "(nothing)"


async def _devtools_port(profile: Path, process: asyncio.subprocess.Process, log: Path) -> int:
    """The port Chromium chose, from the first line of the DevToolsActivePort file it writes once listening."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(TIMEOUT):
            while process.returncode is None:
                with contextlib.suppress(FileNotFoundError):
                    lines = (profile / "DevToolsActivePort").read_text().splitlines()
                    if len(lines) >= 2 and lines[0].isdigit():  # both lines written: the port is complete
                        return int(lines[0])
                await asyncio.sleep(0.05)
    state = f"exited with status {process.returncode}" if process.returncode is not None else f"ran {TIMEOUT} s"
    raise RuntimeError(f"Chromium {state} without opening DevTools; its stderr ends with:\n{_tail(log)}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (Chromium then shuts down cleanly), SIGKILL if it takes too long, and reap it; then SIGKILL what is
    left of its process group (helpers that have not exited yet: disposable, as the profile is)."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        async with asyncio.timeout(10):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def launch(tmp_path: Path, *, executable: str | None = None) -> AsyncIterator[Browser]:
    """Start a fresh headless Chromium (own profile and stderr log in a new directory under `tmp_path`), and stop
    it on exit, leaving no process, socket or warning behind."""
    executable = executable or chromium_path()
    if executable is None:
        raise RuntimeError(f"no Chromium found ({INSTALL_HINT})")
    run = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    profile, log = run / "profile", run / "stderr.log"
    with log.open("wb") as stderr:  # a file, not a pipe: nobody reads it while the test runs, so a pipe could fill
        process = await asyncio.create_subprocess_exec(
            executable, *FLAGS, f"--user-data-dir={profile}", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,  # its own process group, so that _stop can find every helper process
        )  # fmt: skip
    try:
        port = await _devtools_port(profile, process, log)
        async with aiohttp.ClientSession() as session:
            browser = Browser(port, session)
            try:
                yield browser
            finally:
                await browser.close_pages()
    finally:
        await _stop(process)
