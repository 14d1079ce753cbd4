"""Page weight of every page, and how fast the room becomes usable on a slow network.

Run: ``.venv/bin/python bench/page_weight.py`` (about a minute; loopback only).

It builds a throwaway demo site as production runs it (DEBUG off, collectstatic with
whitenoise's compressed manifest storage, daphne), then for each page of
tests/reach/pages.py opens a fresh headless Chromium context (cold cache) and sums the
bytes transferred for HTML, CSS and JS (headers plus compressed bodies; images, media,
fonts and WebSocket traffic excluded). Budgets: 60 KB for the catalog and library pages,
150 KB for the room. Then, with Chromium's network emulation at 400 kbit/s and 150 ms
round trip, it times how long the room takes to become usable (a chat message sent and
shown, a hand raised and shown), several times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ROOM_BUDGET_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_environment(workdir: Path, port: int) -> dict[str, str]:
    """Production-like settings on a throwaway SQLite database and static root."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME"):
        env.pop(name, None)
    env.update({
        "DJANGO_SETTINGS_MODULE": "server.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"daphne exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("daphne did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="slow-network room loads (default 5)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown rows")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="openrounds-bench-"))
    port = free_port()
    env = site_environment(workdir, port)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    manage(env, "compilemessages", "--ignore=.venv", "--ignore=node_modules", "-v0")

    # Seed and make sessions in this process, on the same database, before the browser starts.
    os.environ.update(env)
    os.environ["DEBUG"] = "1"  # the seed modules are demo code; the server itself runs with DEBUG off
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    import django

    django.setup()
    from django.conf import settings

    from server.people.models import User
    from tests.browser_support import session_cookie_for
    from tests.reach.pages import PAGES, ROOM_PAGE, room_usability_probe, seed_demo_data

    people = seed_demo_data()
    targets = []
    for site_page in PAGES:
        try:
            path = site_page.path(people)
        except LookupError as error:
            print(f"skipped {site_page.name}: {error}")
            continue
        viewer = site_page.viewer(people)
        cookie = session_cookie_for(User.objects.get(username=viewer)) if viewer else None
        targets.append((site_page, path, cookie))
    try:
        room_path = ROOM_PAGE.path(people)
    except LookupError as error:
        print(f"skipped the slow-network room measurement: {error}")
        room_path = None
    # Each run is another registered attendee, so every run raises a hand that is down.
    from django.apps import apps as django_apps

    attendees = []
    if room_path is not None:
        session_id = int(room_path.strip("/").split("/")[-1])
        attendees = list(
            django_apps.get_model("live", "SessionRegistration").objects
            .filter(session_id=session_id, status="registered").select_related("user").order_by("pk")[: args.runs]
        )
    room_cookies = [session_cookie_for(registration.user) for registration in attendees]
    cookie_name = settings.SESSION_COOKIE_NAME

    url = f"http://127.0.0.1:{port}"
    server_log = (workdir / "daphne.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "server.asgi:application"],
                              cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, server)
        run_browser(url, cookie_name, targets, room_path, room_cookies, room_usability_probe, markdown=args.markdown)
    finally:
        server.terminate()
        server.wait(10)
        server_log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run_browser(url, cookie_name, targets, room_path, room_cookies, probe, *, markdown: bool = False) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM_ARGS
    from tests.reach.measure import emulate_slow_network, measure_page_weight, seconds_until_usable

    failures = []
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

        def fresh_page(cookie):
            context = browser.new_context(base_url=url, permissions=["camera", "microphone"])
            context.set_default_timeout(30_000)
            if cookie:
                context.add_cookies([{"name": cookie_name, "value": cookie, "url": url}])
            return context.new_page()

        print(f"\nPage weight, cold cache, transferred bytes (KB = 1000 B) — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
        print(f"{'page':<24} {'HTML':>7} {'CSS':>7} {'JS':>7} {'total':>8} {'budget':>7}  {'not counted':>11}")
        for site_page, path, cookie in targets:
            page = fresh_page(cookie)
            weight = measure_page_weight(page, path)
            page.context.close()
            kb = {kind: weight.by_kind.get(kind, 0) / 1000 for kind in ("html", "css", "js")}
            total = weight.total / 1000
            verdict = ""
            if site_page.budget_kb is not None:
                verdict = f"{site_page.budget_kb:>5} {'ok' if total <= site_page.budget_kb else 'OVER'}"
                if total > site_page.budget_kb:
                    failures.append(f"{site_page.name}: {total:.1f} KB > {site_page.budget_kb} KB")
            for url in weight.uncompressed:
                failures.append(f"{site_page.name}: {url} was sent uncompressed")
            if weight.status != 200:
                failures.append(f"{site_page.name}: HTTP {weight.status}")
            rows.append(f"| {site_page.name} | {kb['html']:.1f} | {kb['css']:.1f} | {kb['js']:.1f} | {total:.1f} | {site_page.budget_kb or ''} |")
            print(f"{site_page.name:<24} {kb['html']:>7.1f} {kb['css']:>7.1f} {kb['js']:>7.1f} {total:>8.1f} {verdict:>7}  {weight.uncounted / 1000:>9.1f}KB")

        if room_path is None:
            room_cookies = []
        print("\nRoom usable on a slow network (400 kbit/s, 150 ms RTT): chat sent and shown, hand raised and shown")
        times = []
        for cookie in room_cookies:
            page = fresh_page(cookie)
            emulate_slow_network(page)
            times.append(seconds_until_usable(page, room_path, probe))
            page.context.close()
        if times:
            print("runs: " + ", ".join(f"{t:.2f} s" for t in times))
            print(f"median {statistics.median(times):.2f} s, worst {max(times):.2f} s, budget {ROOM_BUDGET_SECONDS:.0f} s")
        if times and max(times) >= ROOM_BUDGET_SECONDS:
            failures.append(f"room usable in {max(times):.2f} s >= {ROOM_BUDGET_SECONDS} s")
        browser.close()
    if markdown:
        print("\n" + "\n".join(rows))
    if failures:
        print("\nOVER BUDGET:\n  " + "\n  ".join(failures))
        raise SystemExit(1)
    print("\nAll budgets hold.")


if __name__ == "__main__":
    main()
