"""Watching the broadcast in a real browser: the picture plays and the chat goes on.

A real daphne (its media worker embedded) stores the broadcast on the pass-2 S3 server;
Chromium's fake camera is the host's picture. The session's SFU holds one person
(MEDIA_SESSION_SFU_CAP=1: the host), so the viewer who asks to join the audio and video is
beyond its capacity: she is told why, the host is told people are waiting, and once the
host starts the broadcast her page plays it by itself (hls.js in this Chromium), fetching
the presigned segments from S3, while she keeps the chat; given the floor, she stops
watching and joins the SFU as a speaker.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.sessions.media.test_browser_media import join, open_room, wait_for
from tests.sessions.room.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.realservices, pytest.mark.django_db(transaction=True)]

PLAYING = """() => {
  const video = document.querySelector('[data-broadcast-video]');
  return video ? {time: video.currentTime, width: video.videoWidth, paused: video.paused} : null;
}"""


DIAGNOSIS = """() => {
  const v = document.querySelector('[data-broadcast-video]');
  return {src: v.currentSrc, error: v.error && [v.error.code, v.error.message], ready: v.readyState, network: v.networkState,
          paused: v.paused, time: v.currentTime, status: document.querySelector('[data-broadcast-status]').textContent};
}"""


PROBE = """async () => {
  const out = {};
  const m = await fetch(document.querySelector('[data-broadcast-video]').currentSrc);
  out.master = [m.status, m.headers.get('content-type')];
  const r = await fetch(new URL('720p.m3u8', m.url));
  const text = await r.text();
  out.rendition = [r.status, text.slice(0, 600)];
  const seg = text.split('\\n').find((l) => l.startsWith('http'));
  try { const sr = await fetch(seg); out.segment = [sr.status, sr.headers.get('content-type'), (await sr.arrayBuffer()).byteLength]; }
  catch (e) { out.segment = String(e); }
  return out;
}"""


@pytest.fixture
def live_site(server_process_factory):
    """The shared daphne, with room on its SFU for the host alone (the overflow)."""
    return server_process_factory(MEDIA_SESSION_SFU_CAP="1")


def bucket_cors_for(origin: str) -> None:
    """What docs/operations.md asks of the bucket: players on the site's pages may GET segments."""
    from django.core.files.storage import storages

    storage = storages["default"]
    assert hasattr(type(storage), "bucket"), storage
    storage.bucket.meta.client.put_bucket_cors(Bucket=storage.bucket.name, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [origin], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 3600},
    ]})


def test_a_viewer_watches_the_broadcast_and_still_chats(people, browser_page, live_site, s3_default_storage):
    bucket_cors_for(live_site.url)
    live = make_session(people)
    host = open_room(browser_page, "tanaka", live.pk)
    join(host, send=True)
    viewer = open_room(browser_page, "amina", live.pk)
    assert viewer.locator("[data-broadcast]").is_hidden(), "nothing to watch before the host starts it"
    viewer.get_by_role("button", name="Join to watch and listen").click()
    expect(viewer.locator("[data-broadcast-status]")).to_contain_text("The host has been told")
    expect(host.locator("[data-broadcast-status]")).to_contain_text("people waiting to watch: 1")
    host.get_by_role("button", name="Start the broadcast").click()
    expect(viewer.locator("[data-broadcast-status]")).to_contain_text("so you watch the broadcast", timeout=20_000)
    try:
        viewer.wait_for_function("() => { const v = document.querySelector('[data-broadcast-video]');"
                                 " return v && v.currentTime > 1 && v.videoWidth > 0; }", timeout=30_000)
    except Exception:
        raise AssertionError([viewer.evaluate(DIAGNOSIS), viewer.evaluate(PROBE)]) from None
    first = viewer.evaluate(PLAYING)
    viewer.wait_for_timeout(2500)
    second = viewer.evaluate(PLAYING)
    assert second["time"] > first["time"] + 1, (first, second)
    assert second["width"] in (1280, 640), second  # a rendition of the broadcast, not the SFU's tile
    assert viewer.locator(".media-tile video").count() == 0, "she watches the broadcast, not the SFU"
    viewer.fill("#chat-text", "Watching the broadcast: the ECG is clear.")
    viewer.press("#chat-text", "Enter")
    expect(host.locator("#chat-log")).to_contain_text("Watching the broadcast: the ECG is clear.")
    # Promoted to speak: the host gives her the floor; her page stops the (late) broadcast,
    # and the SFU, full for viewers, takes her as a speaker.
    host.locator(f'#people-list li[data-user-id="{people.amina.pk}"]').get_by_role("button", name="Give the floor").click()
    expect(viewer.locator("[data-broadcast-status]")).to_contain_text("The host gave you the floor")
    expect(viewer.locator("[data-broadcast-video]")).to_be_hidden()
    join(viewer, send=True)
    wait_for(host, lambda s: s["audio"] > 20)
    host.get_by_role("button", name="Stop the broadcast").click()
    expect(viewer.locator("[data-broadcast-status]")).to_contain_text("The broadcast has ended.", timeout=20_000)
