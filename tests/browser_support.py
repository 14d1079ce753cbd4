"""Browser-test fixtures: a real daphne serving the test database, and headless Chromium.

Browser tests drive pages as a person would. The server is a separate daphne process
(so WebSockets work and nothing is faked) that reads the same test database as the test;
tests therefore use committed data: mark them
`@pytest.mark.browser` and `@pytest.mark.django_db(transaction=True)`.

    def test_amina_sees_her_profile(people, browser_page):
        page = browser_page("amina")
        page.goto("/accounts/profile/")
        expect(page.get_by_text("University of Lagos")).to_be_visible()

Pages open relative URLs against the live site (`base_url` is set on every context).
Chromium is Debian's (/usr/bin/chromium) with a fake camera and microphone, and WebRTC
to loopback allowed; it talks to nothing but 127.0.0.1.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import free_port, need_component

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the test database this test process is using."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        name = config["NAME"]
        if not name or name == ":memory:" or "mode=memory" in str(name):
            pytest.fail("Browser tests need a file-backed SQLite test database (see server/settings/test.py).")
        return f"sqlite:///{name}"
    if connection.vendor == "postgresql":
        user = config.get("USER") or "postgres"
        password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
        host = config.get("HOST") or "127.0.0.1"
        port = config.get("PORT") or "5432"
        return f"postgres://{user}{password}@{host}:{port}/{config['NAME']}"
    pytest.fail(f"No browser-test support for the {connection.vendor} database.")


@dataclass
class ServerProcess:
    """A daphne process serving server.asgi on a loopback port, logging to a file."""

    port: int
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536",
             "server.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"daphne exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        pytest.fail(f"daphne did not become healthy in {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        """Kill -9, as a crash would: no cleanup runs in the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


_collected_static: Path | None = None


def collected_static_root() -> Path:
    """A STATIC_ROOT collected once per test process, with whitenoise's gzip variants.

    The browser tests' servers serve static files from it as production does (compressed,
    not read from the source folders on each request), so what a test times on a slow
    network is what a student downloads. Source maps and the unused hls.js builds are left
    out (about 1.5 s to collect).
    """
    global _collected_static
    if _collected_static is None:
        root = Path(tempfile.mkdtemp(prefix="openrounds-test-static-"))
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "server.settings.test", "DEBUG": "1",
               "STATIC_ROOT": str(root), "TEST_STATIC_COMPRESSED": "1"}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        # Of hls.js's builds only hls.light.min.mjs is served (templates/media/broadcast.html).
        ignored = ["*.map", "*.d.ts", "*.d.mts", "hls-demo.js", "hls.js", "hls.mjs", "hls.min.*", "hls.light.js",
                   "hls.light.mjs", "hls.light.min.js", "hls.worker.js"]
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0",
             *(argument for pattern in ignored for argument in ("--ignore", pattern))],
            cwd=ROOT, env=env, check=True, timeout=120,
        )
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _collected_static = root
    return _collected_static


def server_environment(**overrides: str) -> dict[str, str]:
    """Environment for a server subprocess: same settings, same test database and files."""
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright in the test process only
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "server.settings.test",
            "DEBUG": "1",
            "DATABASE_URL": database_url_for_subprocess(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
            "STATIC_ROOT": str(collected_static_root()),
            "TEST_STATIC_COMPRESSED": "1",
        }
    )
    env.update(overrides)
    return env


@pytest.fixture
def server_process_factory(transactional_db, tmp_path) -> Iterator[Callable[..., ServerProcess]]:
    """Start extra daphne processes (e.g. two behind one Redis); all stopped at teardown."""
    started: list[ServerProcess] = []

    def start(port: int | None = None, **env_overrides: str) -> ServerProcess:
        server = ServerProcess(
            port=port or free_port(),
            log_path=tmp_path / f"daphne-{len(started)}.log",
            env=server_environment(**env_overrides),
        )
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_site(server_process_factory) -> ServerProcess:
    """One daphne process serving the test database; `live_site.url` is its address."""
    return server_process_factory()


@pytest.fixture
def chromium() -> Iterator[object]:
    """Debian's headless Chromium through Playwright (no browser download)."""
    need_component("chromium", shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's ORM
    # calls are still plain synchronous calls on the main thread, so Django may allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # Connections the test opened while Playwright's loop ran live in this
                # context; close them so the test database can be dropped.
                from django.db import connections

                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def session_cookie_for(user) -> str:
    """Create a logged-in Django session for `user` and return its key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


@pytest.fixture
def browser_page(live_site, chromium) -> Callable[..., object]:
    """`browser_page("amina")` → a Playwright Page logged in as amina (None: anonymous).

    Each call is a fresh browser context (own cookies), like a different person's device.
    Extra keyword arguments go to `browser.new_context` (e.g. locale="fr-FR").
    """
    from server.people.models import User

    def open_page(username: str | None = None, **context_options: object):
        options = {"base_url": live_site.url, "permissions": ["camera", "microphone"], **context_options}
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        if username is not None:
            user = User.objects.get(username=username)
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie_for(user), "url": live_site.url}])
        return context.new_page()

    return open_page
