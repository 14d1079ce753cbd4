"""The broadcast tier: one encode's CPU, glass-to-glass latency, and what a viewer costs us.

Run: ``.venv/bin/python bench/broadcast.py`` (about 2 minutes; loopback only: the SFU,
an aiortc publisher and the moto S3 server on 127.0.0.1:9123 if it runs, else local
files). ``--seconds`` sets each phase's length.

What it measures, with the production classes (``sessions.media.MediaRoom`` and
``sessions.media.broadcast.RoomBroadcaster``, the worker's own broadcaster):

* **worker CPU for one broadcast** (720p + 360p + audio renditions, 2 s segments): the
  CPU time of the broadcaster's two threads (decode + mix + three encodes + mux; upload)
  from /proc per thread, as % of one core. The publisher (aiortc encoding a 640x480 VP8
  camera at 15 fps, its picture changing every frame) runs in the same process but its
  threads are not counted; the SFU's copy of packets into the broadcaster's queue on
  the event loop is not counted either (microseconds per packet).
* **glass-to-glass latency**: every 4 s the publisher sends a white frame (the rest are
  dark); a player-like client polls the 360p playlist in storage every 0.25 s, downloads
  each new segment, decodes it and notes when the white frame first appears. Latency =
  that moment - the moment the publisher's track produced the frame. p50 and max.
* **cost per viewer on the OpenRounds side**: (a) the broadcaster's CPU while 0 and
  while `--viewers` simulated viewers fetch segments from storage (as a CDN's misses
  would; bounded: each viewer fetches the newest segment of a rendition once per
  segment interval for one phase) — the worker never sees them, so it should stay flat;
  (b) the playlist rewrite every viewer's player asks Django for every 2 s
  (`broadcast_views.rendition_playlist`), timed per call with the sharing cache warm and
  on a miss (storage read + signing the live window). The permission check before it (the
  room's rule: three indexed queries) is not in (b).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MOTO = ("127.0.0.1", 9123)
BUCKET = "openrounds-bench-broadcast"
AIMS = {"cpu_percent": 100.0, "latency_p50_s": 6.0}


def moto_running() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(MOTO) == 0


def configure_storage() -> str:
    """S3 on the local moto server when it runs (a bucket of the bench's own), else files."""
    if not moto_running():
        os.environ.pop("AWS_STORAGE_BUCKET_NAME", None)
        return "local files"
    os.environ.update({
        "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": f"http://{MOTO[0]}:{MOTO[1]}",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_LOCATION": f"bench-{os.getpid()}",
    })
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"], aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    try:
        client.create_bucket(Bucket=BUCKET)
    except Exception:
        pass
    return "S3 (moto on 127.0.0.1:9123)"


def process_cpu_seconds() -> float:
    """This process's CPU time, every thread (x264 runs threads of its own)."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def uptime_load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def viewers_fetch(conn: Any, viewers: int) -> None:
    """The simulated viewers (another process): each round, every viewer GETs one segment."""
    totals = {"requests": 0, "bytes": 0, "errors": 0}

    def fetch(url: str) -> None:
        try:
            if url.startswith("http"):
                with urllib.request.urlopen(url, timeout=10) as response:
                    totals["bytes"] += len(response.read())
            else:
                totals["bytes"] += len(Path(url).read_bytes())
            totals["requests"] += 1
        except Exception:
            totals["errors"] += 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        while True:
            urls = conn.recv()
            if urls is None:
                break
            list(pool.map(fetch, [urls[i % len(urls)] for i in range(viewers)]))
            conn.send(True)
    conn.send(totals)


class FlashingCamera:
    """A 640x480 camera at 15 fps: dark moving noise, and a white frame every `period` s."""

    def __init__(self, period: float = 4.0) -> None:
        from aiortc.mediastreams import VideoStreamTrack

        outer = self
        self.period = period
        self.flashes: list[float] = []
        self.count = 0

        class Track(VideoStreamTrack):
            async def recv(self) -> Any:
                import av

                pts, time_base = await self.next_timestamp()
                frame = av.VideoFrame(640, 480, "yuv420p")
                outer.count += 1
                # Three frames (200 ms): the broadcaster samples the newest picture on its own clock.
                phase = outer.count % int(15 * outer.period)
                white = phase < 3 and outer.count > 30
                luma = frame.planes[0]
                if white:
                    luma.update(bytes([235]) * luma.buffer_size)
                    if phase == 0:
                        outer.flashes.append(time.time())
                else:
                    shift = outer.count % 64
                    row = bytes(30 + ((i + shift) % 64) for i in range(luma.line_size))
                    luma.update(row * 480)
                for plane in frame.planes[1:]:
                    plane.update(bytes([128]) * plane.buffer_size)
                frame.pts, frame.time_base = pts, time_base
                return frame

        self.track = Track()


class Player:
    """Polls a rendition's playlist in storage like a player and finds the white frames."""

    def __init__(self, folder: str, rendition: str = "360p") -> None:
        self.folder = folder
        self.rendition = rendition
        self.seen: set[str] = set()
        self.found: list[float] = []  # when each white frame was first downloaded
        self._last_white_pts: float = -10.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        from django.core.files.storage import default_storage

        from sessions.media.broadcast import playlist_segments

        while not self._stop.wait(0.25):
            try:
                with default_storage.open(f"{self.folder}/{self.rendition}/index.m3u8", "rb") as stored:
                    text = stored.read().decode()
            except Exception:
                continue
            for name in playlist_segments(text):
                if name in self.seen:
                    continue
                self.seen.add(name)
                with default_storage.open(f"{self.folder}/{self.rendition}/{name}", "rb") as stored:
                    data = stored.read()
                arrived = time.time()
                self._scan(data, arrived)

    def _scan(self, data: bytes, arrived: float) -> None:
        import av

        with av.open(io.BytesIO(data), format="mpegts") as container:
            for frame in container.decode(video=0):
                plane = frame.planes[0]
                sample = bytes(plane)[: plane.line_size * 8]
                bright = sum(sample[::97]) / max(1, len(sample[::97]))
                seconds = float(frame.pts * frame.time_base)
                if bright > 180 and seconds - self._last_white_pts > 1.0:
                    self.found.append(arrived)
                    self._last_white_pts = seconds


async def run(seconds: float, viewers: int) -> dict[str, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack
    from django.core.files.storage import default_storage, storages

    from sessions.media import MediaConfig, MediaRoom
    from sessions.media.broadcast import RoomBroadcaster, playlist_segments
    from sessions.media.broadcast_views import _cache, rendition_playlist
    from sessions.media.tap import IceRestriction, restrict_ice

    async def ignore(_participant: str, _message: dict[str, Any]) -> None:
        return None

    room = MediaRoom("bench", config=MediaConfig(ice_host_addresses=("127.0.0.1",)), on_signal=ignore)
    camera = FlashingCamera()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(camera.track)
    restrict_ice(pc, IceRestriction(("127.0.0.1",)))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await room.handle_offer("publisher", pc.localDescription.sdp, may_publish=True)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(2)
    # Phase 0: the publisher and the SFU alone: the level the broadcast's cost is measured above.
    c_base, t_base = process_cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds / 2)
    baseline = 100 * (process_cpu_seconds() - c_base) / (time.monotonic() - t_base)

    broadcaster = RoomBroadcaster(room, session_id=990000 + os.getpid() % 1000, owner="bench")
    began = time.monotonic()
    await broadcaster.start()
    ready = await broadcaster.wait_first_segment(20)
    first_playlist = time.monotonic() - began
    if not ready:
        raise SystemExit("the broadcast produced no segment")
    player = Player(broadcaster.folder)
    player.start()
    cpu = process_cpu_seconds

    # Phase 1: the broadcast alone.
    await asyncio.sleep(2)
    c0, t0 = cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    alone = 100 * (cpu() - c0) / (time.monotonic() - t0) - baseline

    # Phase 2: the same while simulated viewers fetch segments from storage. They run in
    # another process (as they would on other machines): this process is the worker's.
    storage: Any = storages["default"]
    s3 = hasattr(type(storage), "bucket")

    def newest_urls() -> list[str]:
        urls = []
        for rendition in ("720p", "360p", "audio"):
            with default_storage.open(f"{broadcaster.folder}/{rendition}/index.m3u8", "rb") as stored:
                newest = playlist_segments(stored.read().decode())[-1]
            name = f"{broadcaster.folder}/{rendition}/{newest}"
            urls.append(storage.url(name, expire=300) if s3 else default_storage.path(name))
        return urls

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    fetcher = context.Process(target=viewers_fetch, args=(child, viewers), daemon=True)
    fetcher.start()
    c1, t1 = cpu(), time.monotonic()
    while time.monotonic() - t1 < seconds:
        round_start = time.monotonic()
        parent.send(await asyncio.to_thread(newest_urls))
        await asyncio.to_thread(parent.recv)  # the round's fetches are done
        spare = 2.0 - (time.monotonic() - round_start)  # each viewer: one segment per 2 s
        if spare > 0:
            await asyncio.sleep(spare)
    with_viewers = 100 * (cpu() - c1) / (time.monotonic() - t1) - baseline
    phase2_seconds = time.monotonic() - t1
    parent.send(None)
    fetched = parent.recv()
    fetcher.join(10)

    # The playlist rewrite every viewer asks Django for (shared cache warm, then a miss).
    def time_calls(n: int, *, miss: bool) -> float:
        spent = 0.0
        for _ in range(n):
            if miss:
                _cache.clear()
            started = time.process_time()
            rendition_playlist(broadcaster.folder, "720p")
            spent += time.process_time() - started
        return spent / n

    rendition_playlist(broadcaster.folder, "720p")
    warm = await asyncio.to_thread(time_calls, 2000, miss=False)
    cold = await asyncio.to_thread(time_calls, 30, miss=True)

    player.stop()
    await broadcaster.stop()
    await pc.close()
    await room.close()
    latencies = []
    for index, found in enumerate(player.found):
        sent = [f for f in camera.flashes if f <= found]
        if sent:
            latencies.append(found - sent[-1])
    return {
        "storage": "S3 (moto)" if s3 else "local files",
        "first_playlist_s": round(first_playlist, 2),
        "cpu_percent_baseline": round(baseline, 1),
        "cpu_percent_alone": round(alone, 1),
        "cpu_percent_with_viewers": round(with_viewers, 1),
        "viewers": viewers,
        "viewer_requests": fetched["requests"], "viewer_errors": fetched["errors"],
        "viewer_mbytes": round(fetched["bytes"] / 1e6, 1), "viewer_phase_s": round(phase2_seconds, 1),
        "flashes_sent": len(camera.flashes), "flashes_seen": len(player.found),
        "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "playlist_view_us_shared": round(warm * 1e6, 1),
        "playlist_view_ms_miss": round(cold * 1e3, 2),
        "encode_wall_s": round(broadcaster.cpu_encode_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each phase (default 40)")
    parser.add_argument("--viewers", type=int, default=1000, help="simulated viewers in phase 2 (default 1000)")
    args = parser.parse_args()
    where = configure_storage()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings.base")
    import django

    django.setup()
    print(f"broadcast bench: storage {where}; load before {uptime_load()}; {os.cpu_count()} cores")
    result = asyncio.run(run(args.seconds, args.viewers))
    print(f"load after {uptime_load()}")
    for key, value in result.items():
        print(f"  {key:<26} {value}")
    verdicts = []
    if result["cpu_percent_alone"] > AIMS["cpu_percent"]:
        verdicts.append(f"CPU {result['cpu_percent_alone']}% > {AIMS['cpu_percent']}% of a core")
    if result["latency_p50_s"] is None or result["latency_p50_s"] > AIMS["latency_p50_s"]:
        verdicts.append(f"latency p50 {result['latency_p50_s']} s > {AIMS['latency_p50_s']} s")
    print("aims: " + ("; ".join(verdicts) if verdicts else "met (CPU < 1 core, latency p50 < 6 s)"))


if __name__ == "__main__":
    main()
