"""Audio and video in real browsers: Chromium's fake camera, microphone and screen.

Each test runs a real daphne (the media worker embedded in it) and drives the room page as
people would: check devices, join, share the screen, record. What a person would notice
is read from the browser's own WebRTC statistics (frames decoded, audio packets received
keep growing) and, for recordings, from the stored file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import av
import pytest
from django.conf import settings

from sessions.models import SessionKind
from tests.conftest import free_port, need_component
from tests.sessions.room.conftest import make_session
from tests.sessions.room.test_multiprocess import own_redis  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.realservices, pytest.mark.django_db(transaction=True)]

RECEIVED = """async () => {
  const media = window.openroundsMedia;
  if (!media || !media.pc) return null;
  const report = await media.pc.getStats();
  const out = {frames: 0, audio: 0, videoTracks: 0, localType: null, screenWidth: 0};
  const candidates = {};
  const pairs = {};
  let selected = null;
  report.forEach((s) => {
    if (s.type === 'local-candidate') candidates[s.id] = s;
    if (s.type === 'candidate-pair') pairs[s.id] = s;
    if (s.type === 'transport' && s.selectedCandidatePairId) selected = s.selectedCandidatePairId;
  });
  const pair = selected && pairs[selected];
  if (pair && candidates[pair.localCandidateId]) out.localType = candidates[pair.localCandidateId].candidateType;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded) { out.frames += s.framesDecoded; out.videoTracks += 1; }
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audio += s.packetsReceived || 0;
  });
  const screen = document.querySelector('.media-tile[data-source="screen"] video');
  if (screen) out.screenWidth = screen.videoWidth;
  return out;
}"""


def open_room(browser_page, username: str, session_id: int):
    page = browser_page(username)
    page.goto(f"/rooms/{session_id}/")
    page.wait_for_selector('#room-connection[data-state="open"]')
    return page


def room_page_on(chromium, site, user, session_id: int, *, timeout_ms: int = 15_000):
    """`user`'s room page on `site` (a ServerProcess other than the shared one), connected."""
    from tests.browser_support import session_cookie_for

    context = chromium.new_context(base_url=site.url, permissions=["camera", "microphone"])
    context.set_default_timeout(timeout_ms)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie_for(user), "url": site.url}])
    page = context.new_page()
    page.goto(f"/rooms/{session_id}/")
    page.wait_for_selector('#room-connection[data-state="open"]')
    return page


def join(page, *, send: bool) -> None:
    if send:
        page.get_by_role("button", name="Join with camera and microphone").click()
    else:
        page.get_by_role("button", name="Join to watch and listen").click()
    page.wait_for_selector('[data-media][data-connection="connected"]', timeout=20_000)


def received(page) -> dict:
    return page.evaluate(RECEIVED)


def wait_for(page, predicate, timeout: float = 25.0) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = received(page)
        if last and predicate(last):
            return last
        page.wait_for_timeout(250)
    raise AssertionError(f"not received in time: {last}")


def keeps_growing(page, *, video: bool = True) -> None:
    first = wait_for(page, lambda s: (s["frames"] > 10 or not video) and s["audio"] > 50)
    page.wait_for_timeout(1500)
    second = received(page)
    if video:
        assert second["frames"] > first["frames"], (first, second)
    assert second["audio"] > first["audio"], (first, second)


def test_three_people_receive_the_presenters_audio_and_video_through_the_sfu(people, browser_page):
    live = make_session(people)
    presenter = open_room(browser_page, "tanaka", live.pk)
    join(presenter, send=True)
    viewers = [open_room(browser_page, name, live.pk) for name in ("amina", "lukas", "chikondi")]
    for viewer in viewers:
        join(viewer, send=False)
    for viewer in viewers:
        keeps_growing(viewer)
        tile = viewer.locator('.media-tile[data-source="camera"]')
        assert tile.count() == 1
        assert people.tanaka.name in tile.inner_text()


def test_a_viewer_in_low_bandwidth_mode_receives_audio_only(people, browser_page):
    live = make_session(people)
    presenter = open_room(browser_page, "tanaka", live.pk)
    join(presenter, send=True)
    viewer = open_room(browser_page, "amina", live.pk)
    viewer.get_by_label("Low bandwidth: audio only").check()
    join(viewer, send=False)
    stats = wait_for(viewer, lambda s: s["audio"] > 50)
    assert stats["frames"] == 0


CAMERA_WIDTH = """() => {
  const video = document.querySelector('.media-tile[data-source="camera"] video');
  return video ? video.videoWidth : 0;
}"""


def test_a_viewer_who_chooses_low_quality_video_gets_the_shared_small_copy(people, browser_page):
    live = make_session(people)
    presenter = open_room(browser_page, "tanaka", live.pk)
    join(presenter, send=True)
    viewer = open_room(browser_page, "amina", live.pk)
    viewer.get_by_label("Low quality video (uses less data)").check()
    join(viewer, send=False)
    keeps_growing(viewer)
    deadline = time.monotonic() + 15
    while viewer.evaluate(CAMERA_WIDTH) == 0 and time.monotonic() < deadline:
        viewer.wait_for_timeout(250)
    # Chromium's fake camera is 640x360 here: the copy fits in 320x180.
    assert 0 < viewer.evaluate(CAMERA_WIDTH) <= 320
    assert viewer.locator('[data-media][data-video-quality="low"]').count() == 1


def test_the_presenter_shares_the_screen_as_a_second_video(people, browser_page):
    live = make_session(people)
    presenter = open_room(browser_page, "tanaka", live.pk)
    join(presenter, send=True)
    viewer = open_room(browser_page, "amina", live.pk)
    join(viewer, send=False)
    wait_for(viewer, lambda s: s["frames"] > 5)
    presenter.get_by_role("button", name="Share screen").click()
    stats = wait_for(viewer, lambda s: s["videoTracks"] >= 2 and s["screenWidth"] > 0)
    assert stats["screenWidth"] >= 640  # the fake screen is 1280 wide; the camera 640
    viewer.wait_for_selector('.media-tile[data-source="screen"]')
    keeps_growing(viewer)


@pytest.fixture
def coturn(tmp_path):
    """A coturn on 127.0.0.1 only, REST credentials (use-auth-secret), loopback peers allowed."""
    binary = shutil.which("turnserver")
    need_component("turnserver", binary is not None)
    port = free_port()
    secret = "test-turn-secret"
    low = 49152 + (port % 200) * 50
    log = tmp_path / "turnserver.log"
    process = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
         "--use-auth-secret", f"--static-auth-secret={secret}", "--realm=openrounds.test",
         "--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli", f"--min-port={low}",
         f"--max-port={low + 49}", "--fingerprint", f"--log-file={log}", "--simple-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            if log.exists() and "listener" in log.read_text(errors="replace").lower():
                break
            time.sleep(0.1)
        time.sleep(0.3)
        if process.poll() is not None:
            pytest.fail(f"turnserver exited: {log.read_text(errors='replace') if log.exists() else ''}")
        yield {"url": f"turn:127.0.0.1:{port}?transport=udp", "secret": secret}
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def test_media_flows_through_turn_when_only_relay_is_allowed(people, coturn, server_process_factory, chromium):
    site = server_process_factory(TURN_URLS=coturn["url"], TURN_SECRET=coturn["secret"])
    live = make_session(people)

    def page_for(user):
        page = room_page_on(chromium, site, user, live.pk)
        page.evaluate("document.querySelector('[data-media]').dataset.relayOnly = '1'")
        return page

    presenter = page_for(people.tanaka)
    join(presenter, send=True)
    viewer = page_for(people.amina)
    join(viewer, send=False)
    keeps_growing(viewer)
    assert received(viewer)["localType"] == "relay"
    assert received(presenter)["localType"] == "relay"


def _loud_and_bright(path_or_file) -> tuple[float, int, int, float]:
    """(duration s, audio frames with sound, decoded video frames, brightest frame's mean luma)."""
    with av.open(path_or_file) as container:
        assert {s.type for s in container.streams} >= {"audio", "video"}
        duration = container.duration / 1_000_000 if container.duration else 0.0
        loud = pictures = 0
        brightest = 0.0
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.AudioFrame):
                if _peak(frame) > 0.05:
                    loud += 1
            else:
                pictures += 1
                luma = bytes(frame.planes[0])
                brightest = max(brightest, sum(luma[:: 97]) / len(luma[:: 97]))
        return duration, loud, pictures, brightest


def _peak(frame: av.AudioFrame) -> float:
    import array

    peak = 0
    frame.pts = None
    for converted in av.AudioResampler(format="s16", layout="mono", rate=frame.sample_rate).resample(frame):
        samples = array.array("h", bytes(converted.planes[0])[: converted.samples * 2])
        peak = max(peak, max((abs(s) for s in samples), default=0))
    return peak / 32768


def _s3_client():
    import boto3

    return boto3.client(
        "s3", endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"], region_name=os.environ.get("AWS_S3_REGION_NAME"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"), aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
    )


def _s3_key(path: str) -> str:
    """The bucket key of a storage path: the run's `AWS_LOCATION` folder comes first."""
    location = os.environ.get("AWS_LOCATION", "").strip("/")
    return f"{location}/{path}" if location else path


def _stored_names(folder: str) -> list[str]:
    """Files the server subprocess stored in `folder`, read where it writes them.

    Read straight from the bucket or the media folder the server's environment names,
    not through this test process's `default_storage`, which other tests swap.
    """
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME")
    if bucket:
        listing = _s3_client().list_objects_v2(Bucket=bucket, Prefix=_s3_key(f"{folder}/"))
        return [item["Key"].rsplit("/", 1)[-1] for item in listing.get("Contents", [])]
    try:
        return os.listdir(Path(settings.MEDIA_ROOT) / folder)
    except FileNotFoundError:
        return []


def _stored_bytes(path: str) -> bytes:
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME")
    if bucket:
        return _s3_client().get_object(Bucket=bucket, Key=_s3_key(path))["Body"].read()
    return (Path(settings.MEDIA_ROOT) / path).read_bytes()


def test_a_recording_made_in_the_browser_plays_back_with_sound_and_picture(people, browser_page, tmp_path):
    live = make_session(people)
    host = open_room(browser_page, "tanaka", live.pk)
    join(host, send=True)
    viewer = open_room(browser_page, "amina", live.pk)
    folder = f"recordings/session-{live.pk}"
    # The S3 test server outlives test databases, whose session ids repeat: only a file
    # that was not there before this recording counts.
    before = set(_stored_names(folder))
    host.get_by_role("button", name="Record").click()
    notice = viewer.locator("#room-recording")
    notice.wait_for(state="visible")
    assert "recorded" in notice.inner_text()
    host.wait_for_timeout(5000)
    host.get_by_role("button", name="Stop recording").click()
    notice.wait_for(state="hidden", timeout=20_000)
    deadline = time.monotonic() + 30
    names: list[str] = []
    while time.monotonic() < deadline and not names:
        names = [name for name in _stored_names(folder) if name not in before]
        time.sleep(0.2)
    assert len(names) == 1
    local = Path(tmp_path) / "recording.webm"
    local.write_bytes(_stored_bytes(f"{folder}/{names[0]}"))
    duration, loud, pictures, brightest = _loud_and_bright(str(local))
    assert duration >= 3.0
    assert pictures >= 40, "at least ~3 s of picture"
    # Chromium's fake microphone beeps once a second (a quiet run has ~17 loud frames in 4 s).
    assert loud >= 3, "the fake microphone's beeps are audible"
    assert brightest > 25, "the picture is not black (black is 16)"


@pytest.fixture
def media_worker_process(tmp_path):
    """`start(**env)` runs `manage.py media_worker` like the Procfile's `media:` line."""
    import sys

    from tests.browser_support import ROOT, server_environment

    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"media-worker-{len(started)}.log").open("ab")
        process = subprocess.Popen([sys.executable, "manage.py", "media_worker"], cwd=ROOT,
                                   env=server_environment(**env), stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        # SIGINT: stop at once. SIGTERM would drain, writing room events into a test database
        # that is being flushed (test_placement.py sends SIGTERM itself, mid-test).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)  # its database connections are gone before the test database is dropped


def test_with_two_web_processes_the_separate_media_worker_carries_the_session(
    people, server_process_factory, media_worker_process, own_redis, chromium
):
    """Production shape: web processes forward signalling over Redis to `manage.py media_worker`."""
    env = {"REDIS_URL": own_redis.url, "MEDIA_WORKER_IN_PROCESS": "0",
           "ROOM_FANOUT_CHANNEL": f"test-media-{free_port()}"}
    worker = media_worker_process(**env)
    a = server_process_factory(**env)
    b = server_process_factory(**env)
    assert worker.poll() is None
    live = make_session(people)

    def page_for(user, site):
        return room_page_on(chromium, site, user, live.pk)

    presenter = page_for(people.tanaka, a)
    join(presenter, send=True)
    viewer = page_for(people.amina, b)
    join(viewer, send=False)
    keeps_growing(viewer)
