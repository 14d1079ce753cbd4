"""Watching the broadcast in a real browser: the picture plays and the chat goes on.

A real daphne (its media worker embedded) stores the broadcast on the pass-2 S3 server;
Chromium's fake camera is the host's picture. The viewer never joins the audio and video:
she presses "Watch the broadcast", and the player (native HLS in this Chromium) plays the
playlist the room served her, fetching the presigned segments from S3.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.sessions.media.test_browser_media import join, open_room
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
    host.get_by_role("button", name="Start the broadcast").click()
    watch = viewer.get_by_role("button", name="Watch the broadcast")
    watch.wait_for(timeout=20_000)
    watch.click()
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
    host.get_by_role("button", name="Stop the broadcast").click()
    expect(viewer.locator("[data-broadcast-status]")).to_contain_text("The broadcast has ended.", timeout=20_000)
