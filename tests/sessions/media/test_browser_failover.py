"""A media worker dies mid-session: every browser gets audio and video back by itself.

Three people in a peer room, in Chromium, their media placed on two `manage.py
media_worker` processes through the Redis registry (a worker takes two people of the
session, then it spreads: one session across two workers, the cascade). The worker of
two of them is killed with SIGKILL: their pages say they are reconnecting, join again on
the other worker over the same room socket, and every page plays everyone's video again,
without a reload.
"""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from sessions.models import SessionKind
from tests.conftest import need_component
from tests.sessions.media.test_browser_media import join, media_worker_process, room_page_on  # noqa: F401  (fixture)
from tests.sessions.media.test_browser_two_way import hears_and_sees
from tests.sessions.media.test_placement import live_workers
from tests.sessions.room.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.realservices, pytest.mark.django_db(transaction=True)]


def test_when_the_media_worker_dies_every_browser_plays_the_others_again_without_a_reload(
    people, settings, media_worker_process, server_process_factory, chromium
):
    def wait_for_workers(count: int) -> None:
        # Playwright's loop runs in this thread: ask the registry from another one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, live_workers(count)).result()

    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    env = {"MEDIA_WORKER_IN_PROCESS": "0", "MEDIA_PLACEMENT": "registry", "MEDIA_DRAIN_SECONDS": "3",
           "MEDIA_WORKER_SOFT_LIMIT": "2"}
    workers = [media_worker_process(**env), media_worker_process(**env)]
    wait_for_workers(2)
    site = server_process_factory(**env)
    live = make_session(people, kind=SessionKind.PEER, host=people.amina, title="Peer exchange: sepsis")
    names = ("amina", "lukas", "chikondi")
    pages = {}
    for name in names:
        page = room_page_on(chromium, site, getattr(people, name), live.pk, timeout_ms=20_000)
        join(page, send=True)
        page.evaluate("window.__notReloaded = true")
        pages[name] = page
    for name, page in pages.items():
        for other in names:
            if other != name:
                hears_and_sees(page, getattr(people, other).pk)

    old_worker = {name: page.evaluate("window.openroundsMedia.worker") for name, page in pages.items()}
    assert all(old_worker.values()) and len(set(old_worker.values())) == 2, old_worker
    doomed = old_worker["amina"]
    assert list(old_worker.values()).count(doomed) == 2, "the first worker took two people"
    killed = next(p for p in workers if doomed.split("-")[-2] == str(p.pid))
    killed.send_signal(signal.SIGKILL)
    killed.wait(5)

    for name, page in pages.items():
        if old_worker[name] == doomed:  # a new peer connection, on the other worker
            page.wait_for_function("(old) => window.openroundsMedia.joined && window.openroundsMedia.worker"
                                   " && window.openroundsMedia.worker !== old", arg=doomed, timeout=40_000)
        else:
            assert page.evaluate("window.openroundsMedia.worker") == old_worker[name]
        for other in names:
            if other != name:
                hears_and_sees(page, getattr(people, other).pk, timeout=40)
        assert page.evaluate("window.__notReloaded") is True
        assert page.locator("[data-media]").get_attribute("data-reconnecting") is None
        if old_worker[name] == doomed:
            assert "back" in page.locator("[data-media-status]").inner_text()
