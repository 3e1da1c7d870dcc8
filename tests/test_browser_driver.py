"""Self-tests of tests/browser.py, the headless-Chromium driver, against a tiny aiohttp app on a real port.
Skipped when no Chromium is installed, unless CI is set (then they fail: CI must not skip browser checks)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from tests.browser import Browser, CdpError, Page, launch, require_chromium

HEAD = '<!doctype html><html lang="en"><head><meta charset="utf-8">'
# Without a viewport meta, mobile emulation lays the page out 980 px wide, as phones do.
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
FORM = f"""{HEAD}{VIEWPORT}<title>Form</title><link rel="stylesheet" href="/style.css"></head><body>
<form method="post" action="/submit"><input id="code" name="code"><button id="send">Send</button></form>
<div style="height: 1500px">tall</div></body></html>"""
BROKEN = f"{HEAD}<title>Broken</title></head><body><script>console.error('logged', 42); throw new Error('x')</script>"


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


def serve(text: str, content_type: str = "text/html") -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, content_type=content_type)

    return handler


async def submit(request: web.Request) -> web.Response:
    code = (await request.post())["code"]
    return html(f"{HEAD}<title>Received</title></head><body><p>Received {code}</p></body></html>", status=201)


@pytest.fixture
async def site(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> str:
    app = web.Application()
    app.router.add_get("/", serve(FORM))
    app.router.add_get("/style.css", serve("body { margin: 0 }", "text/css"))
    app.router.add_post("/submit", submit)
    app.router.add_get("/broken", serve(BROKEN))
    server = await aiohttp_server(app)
    return str(server.make_url("/"))


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    require_chromium()
    async with launch(tmp_path) as browser:
        yield browser


@pytest.fixture
async def page(browser: Browser) -> Page:
    return await browser.new_page()


async def test_form_post_navigates_to_the_answer(page: Page, site: str) -> None:
    assert await page.goto(site) == 200
    await page.fill("#code", "H01.23")
    assert await page.evaluate("document.querySelector('#code').value") == "H01.23"
    assert await page.click_and_wait("#send") == 201
    assert await page.text() == "Received H01.23"
    assert await page.evaluate("document.title") == "Received"
    assert page.console_errors == page.exceptions == []


async def test_evaluate(page: Page, site: str) -> None:
    await page.goto(site)
    assert await page.evaluate("1 + 1") == 2
    assert await page.evaluate("Promise.resolve({a: [1, 'b']})") == {"a": [1, "b"]}
    assert await page.evaluate("undefined") is None
    with pytest.raises(CdpError, match="boom"):
        await page.evaluate("(() => { throw new Error('boom') })()")
    with pytest.raises(CdpError, match="nothing matches #missing"):
        await page.fill("#missing", "x")


async def test_screenshot_is_a_png_of_the_whole_page(page: Page, site: str, tmp_path: Path) -> None:
    await page.set_viewport(1024, 768)
    await page.goto(site)
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height > 1500
    for name in ("first.png", "second.png"):  # the same each time: a screenshot leaves the layout as it was
        path = await page.screenshot(tmp_path / name)
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(path) as image:
            assert image.size == (1024, height)  # the whole document, beyond the 768 px viewport
    with Image.open(await page.screenshot(tmp_path / "viewport.png", full_page=False)) as image:
        assert image.size == (1024, 768)


async def test_mobile_viewport(page: Page, site: str, tmp_path: Path) -> None:
    await page.set_viewport(390, 844, mobile=True, scale=3)
    await page.goto(site)
    assert await page.evaluate("[window.innerWidth, devicePixelRatio, navigator.maxTouchPoints]") == [390, 3, 5]
    with Image.open(await page.screenshot(tmp_path / "mobile.png")) as image:
        assert image.size[0] == 390 * 3


async def test_print_media(page: Page, site: str) -> None:
    await page.goto(site)
    assert await page.evaluate("matchMedia('print').matches") is False
    await page.emulate_media("print")
    assert await page.evaluate("matchMedia('print').matches") is True


async def test_every_request_goes_to_the_server(page: Page, site: str) -> None:
    await page.goto(site)
    await page.fill("#code", "x")
    await page.click_and_wait("#send")
    assert {urlsplit(url).netloc for url in page.requested_urls} == {urlsplit(site).netloc}
    # Chromium fetches /favicon.ico by itself (and the driver sees it) when the page names no icon.
    assert {urlsplit(url).path for url in page.requested_urls} - {"/favicon.ico"} == {"/", "/style.css", "/submit"}


async def test_script_errors_are_recorded(page: Page, site: str) -> None:
    assert await page.goto(site + "broken") == 200
    assert len(page.exceptions) == 1 and "Error: x" in page.exceptions[0]
    assert page.console_errors == ["logged 42"]


async def test_two_pages_and_a_refused_navigation(browser: Browser, site: str) -> None:
    first, second = await browser.new_page(), await browser.new_page()
    assert await first.goto(site) == 200
    assert await second.goto(site + "missing") == 404
    with pytest.raises(CdpError, match="ERR_"):
        await first.goto("http://127.0.0.1:1/")


async def test_launch_reports_why_chromium_did_not_start(tmp_path: Path) -> None:
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'fatal: cannot open display' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"exited with status 3(.|\n)*fatal: cannot open display"):
        async with launch(tmp_path, executable=str(fake)):
            pass


def test_require_chromium_skips_without_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_CHROMIUM", "/nonexistent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium found"):
        require_chromium()


def test_require_chromium_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_CHROMIUM", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_chromium()
