"""The broadcast tier: the room's composite encoded once into HLS on the file storage.

Why: an SFU pays for every viewer (a send per packet per subscriber); a lecture for
10,000 people, most of whom only watch, should cost one encode. The broadcaster is one
more subscriber of the room's forwarders, exactly like the recorder (`recording.py`):
every speaker's audio mixed, one picture (the screen share, else the active speaker).
It encodes that composite in a thread, off the event loop that forwards media, into three
HLS renditions with 2-second segments, each its own FFmpeg `hls` muxer writing into a
temporary folder:

- `720p/`: H.264 (High, 1280x720) + AAC;
- `360p/`: H.264 (Main, 640x360) + AAC, for poor connections;
- `audio/`: AAC only, for data savers and the worst connections;

and `master.m3u8` naming the three. A second thread uploads what the muxers finish, through
`default_storage` (django-storages: S3 in production), under
`broadcasts/session-<id>/<start>/`: each new segment first (immutable: its name is never
reused, `Cache-Control: public, max-age=31536000, immutable`), then the rendition's
playlist (`max-age=1`), so a playlist in storage never names a segment that is not there.
Viewers never read the bucket directly: `broadcast_views.py` checks that they may be in
the room and rewrites the playlist with presigned segment URLs.

The playlists keep every segment (`EXT-X-PLAYLIST-TYPE:EVENT`); when the broadcast stops
they are closed with `#EXT-X-ENDLIST` and the master playlist becomes the session's
recording (video on demand): one encode for live and replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import av

from .recording import SAMPLE_RATE, RoomRecorder, _Mixer

if TYPE_CHECKING:
    from .sfu import MediaRoom

logger = logging.getLogger(__name__)

SEGMENT_SECONDS = 2
SEGMENT_CACHE = "public, max-age=31536000, immutable"
PLAYLIST_CACHE = "public, max-age=1"
MASTER_CACHE = "public, max-age=60"
UPLOAD_POLL_SECONDS = 0.2


class BroadcastUnavailable(RuntimeError):
    """The bundled FFmpeg lacks an encoder the broadcast needs (H.264 or AAC)."""


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int  # 0: audio only
    height: int
    video_bit_rate: int
    profile: str
    codecs: str


RENDITIONS = (
    Rendition("720p", 1280, 720, 1_500_000, "high", "avc1.64001f,mp4a.40.2"),
    Rendition("360p", 640, 360, 450_000, "main", "avc1.4d401e,mp4a.40.2"),
    Rendition("audio", 0, 0, 0, "", "mp4a.40.2"),
)
FPS = 15
#: The rendition whose segments become the session's recording when the broadcast ends.
RECORDED_RENDITION = "720p"
AUDIO_BIT_RATE = 64_000


def broadcast_encoders_check() -> None:
    """Fail clearly when the FFmpeg bundled with PyAV cannot encode H.264 or AAC."""
    for name in ("libx264", "aac"):
        try:
            av.codec.Codec(name, "w")
        except Exception as missing:
            raise BroadcastUnavailable(
                f"the FFmpeg bundled with PyAV {av.__version__} has no {name} encoder: broadcasts need H.264 and AAC"
            ) from missing


def broadcast_folder(session_id: int, stamp: str) -> str:
    """Where one broadcast of a session is stored (through `default_storage`)."""
    return f"broadcasts/session-{int(session_id)}/{stamp}"


def master_playlist() -> str:
    """The master playlist: the three renditions, best first (players pick by bandwidth)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in RENDITIONS:
        bandwidth = int((rendition.video_bit_rate + AUDIO_BIT_RATE) * 1.2)
        resolution = f",RESOLUTION={rendition.width}x{rendition.height},FRAME-RATE={FPS}" if rendition.width else ""
        lines.append(f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth}{resolution},CODECS="{rendition.codecs}"')
        lines.append(f"{rendition.name}/index.m3u8")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ storage


def broadcast_file_save(name: str, data: bytes, *, content_type: str, cache_control: str) -> None:
    """Write `name` (replacing it) with its cache header: S3 through django-storages' bucket.

    `default_storage.save` would neither set Cache-Control per file nor overwrite a
    playlist on a file system (it renames); both matter here.
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage, storages

    storage: Any = storages["default"]
    if hasattr(type(storage), "bucket") and hasattr(storage, "_normalize_name"):
        from storages.utils import clean_name

        key = storage._normalize_name(clean_name(name))
        storage.bucket.Object(key).put(Body=data, ContentType=content_type, CacheControl=cache_control)
        return
    if hasattr(storage, "path"):
        path = storage.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.part"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
        return
    with contextlib.suppress(Exception):
        default_storage.delete(name)
    default_storage.save(name, ContentFile(data))


_SEGMENT_LINE = re.compile(r"^seg-\d{6}\.ts$")


def playlist_segments(text: str) -> list[str]:
    """The segment names a media playlist lists, in order."""
    return [line for line in text.splitlines() if _SEGMENT_LINE.match(line.strip())]


class _Uploader:
    """Copies what the muxers finished into storage: segments first, then each playlist."""

    def __init__(self, local: str, folder: str) -> None:
        self.local = local
        self.folder = folder
        self.uploaded: set[str] = set()
        self.playlists: dict[str, str] = {}
        self.first_segment_at: float | None = None
        self.bytes_uploaded = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broadcast-upload", daemon=True)

    def start(self) -> None:
        broadcast_file_save(f"{self.folder}/master.m3u8", master_playlist().encode(),
                            content_type="application/vnd.apple.mpegurl", cache_control=MASTER_CACHE)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.wait(UPLOAD_POLL_SECONDS):
            self.sync()

    def sync(self, *, final: bool = False) -> None:
        """Upload new segments of every rendition, then its playlist if it changed."""
        for rendition in RENDITIONS:
            local_playlist = os.path.join(self.local, rendition.name, "index.m3u8")
            try:
                with open(local_playlist, encoding="utf-8") as handle:
                    text = handle.read()
            except FileNotFoundError:
                continue
            if final and "#EXT-X-ENDLIST" not in text:
                text = text.rstrip("\n") + "\n#EXT-X-ENDLIST\n"
            if text == self.playlists.get(rendition.name):
                continue
            try:
                for segment in playlist_segments(text):
                    key = f"{rendition.name}/{segment}"
                    if key in self.uploaded:
                        continue
                    with open(os.path.join(self.local, rendition.name, segment), "rb") as part:
                        data = part.read()
                    broadcast_file_save(f"{self.folder}/{key}", data, content_type="video/mp2t", cache_control=SEGMENT_CACHE)
                    self.uploaded.add(key)
                    self.bytes_uploaded += len(data)
                    if self.first_segment_at is None:
                        self.first_segment_at = time.time()
                    if rendition.name != RECORDED_RENDITION:  # kept for the recording (`recording_remux`)
                        with contextlib.suppress(OSError):
                            os.remove(os.path.join(self.local, rendition.name, segment))
                broadcast_file_save(f"{self.folder}/{rendition.name}/index.m3u8", text.encode(),
                                    content_type="application/vnd.apple.mpegurl", cache_control=PLAYLIST_CACHE)
                self.playlists[rendition.name] = text
            except FileNotFoundError:
                continue  # a segment still being renamed: the next round takes it
            except Exception:
                self.failures += 1
                logger.warning("broadcast %s: upload failed; retrying", self.folder, exc_info=True)


# ------------------------------------------------------------------ the encoder


class _AudioFanout:
    """Looks like one audio stream to `_Mixer._mix`; encodes each mixed frame for every muxer."""

    def __init__(self, outputs: list[tuple[Any, Any]]) -> None:
        self.outputs = outputs

    def encode(self, frame: Any) -> list[Any]:
        for container, stream in self.outputs:
            for packet in stream.encode(frame):
                container.mux(packet)
        return []


class _HlsMixer(_Mixer):
    """The recorder's thread (decode, mix, follow the picture), writing three HLS muxers."""

    def __init__(self, local: str) -> None:
        super().__init__(os.path.join(local, "unused"), None)  # type: ignore[arg-type]
        self.local = local
        self.encode_seconds = 0.0

    def _open(self, rendition: Rendition) -> tuple[Any, Any, Any]:
        folder = os.path.join(self.local, rendition.name)
        os.makedirs(folder, exist_ok=True)
        container = av.open(os.path.join(folder, "index.m3u8"), mode="w", format="hls", options={
            "hls_time": str(SEGMENT_SECONDS), "hls_list_size": "0", "hls_playlist_type": "event",
            "hls_segment_type": "mpegts", "hls_flags": "temp_file+independent_segments",
            "hls_segment_filename": os.path.join(folder, "seg-%06d.ts"),
        })
        video = None
        if rendition.width:
            video = container.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = rendition.width, rendition.height, "yuv420p"
            video.bit_rate = rendition.video_bit_rate
            video.codec_context.gop_size = FPS * SEGMENT_SECONDS
            video.codec_context.options = {
                "preset": "veryfast", "tune": "zerolatency", "profile": rendition.profile,
                "x264-params": f"keyint={FPS * SEGMENT_SECONDS}:min-keyint={FPS * SEGMENT_SECONDS}:scenecut=0:forced-idr=1",
            }
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        audio.bit_rate = AUDIO_BIT_RATE
        return container, video, audio

    def _record(self) -> None:
        outputs = [(rendition, *self._open(rendition)) for rendition in RENDITIONS]
        try:
            fanout = _AudioFanout([(container, audio) for _r, container, _v, audio in outputs])
            videos = [(rendition, container, video) for rendition, container, video, _a in outputs if video is not None]
            self._loop(fanout, videos)
            for _rendition, container, video in videos:
                for packet in video.encode(None):
                    container.mux(packet)
            for _rendition, container, _video, audio in outputs:
                for packet in audio.encode(None):
                    container.mux(packet)
        finally:
            for _rendition, container, _video, _audio in outputs:
                with contextlib.suppress(Exception):
                    container.close()

    def _loop(self, fanout: _AudioFanout, videos: list[tuple[Rendition, Any, Any]]) -> None:
        def mix_audio(buffers: dict[str, bytearray], playing: set[str], tick: int) -> None:
            self._mix(None, fanout, buffers, playing, tick)

        def encode_video(picture: av.VideoFrame | None, tick: int) -> None:
            began = time.perf_counter()
            for rendition, container, stream in videos:
                frame = _picture(picture, rendition)
                frame.pts, frame.time_base = tick, fractions.Fraction(1, FPS)
                if tick % (FPS * SEGMENT_SECONDS) == 0:
                    frame.pict_type = av.video.frame.PictureType.I  # a segment starts on every 2 s
                for packet in stream.encode(frame):
                    container.mux(packet)
            self.encode_seconds += time.perf_counter() - began
            self.video_frames += 1

        self._run_clock(FPS, mix_audio, encode_video)


def recording_remux(segments: list[str], target: str) -> None:
    """Join MPEG-TS segments into one MP4 (faststart), copying packets: no second encode."""
    joined = target + ".ts"
    with open(joined, "wb") as out:
        for path in segments:
            with open(path, "rb") as part:
                shutil.copyfileobj(part, out)
    with av.open(joined, format="mpegts") as source, av.open(
        target, mode="w", format="mp4", options={"movflags": "+faststart"},
    ) as output:
        streams = {}
        for stream in source.streams:
            if stream.type in ("audio", "video"):
                streams[stream.index] = output.add_stream_from_template(stream)
        for packet in source.demux(*[s for s in source.streams if s.index in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    os.remove(joined)


def _picture(picture: av.VideoFrame | None, rendition: Rendition) -> av.VideoFrame:
    """The chosen picture at the rendition's size (black before anyone shows one)."""
    if picture is None:
        black = av.VideoFrame(rendition.width, rendition.height, "yuv420p")
        for index, plane in enumerate(black.planes):
            plane.update(bytes([16 if index == 0 else 128]) * plane.buffer_size)
        return black
    return picture.reformat(width=rendition.width, height=rendition.height, format="yuv420p")


class RoomBroadcaster(RoomRecorder):
    """Broadcasts one room; `start`, then `stop` (the recorder's subscriptions, HLS output)."""

    def __init__(self, room: "MediaRoom", *, session_id: int, owner: str = "local") -> None:
        broadcast_encoders_check()
        super().__init__(room, session_id=session_id, owner=owner)
        with contextlib.suppress(OSError):
            os.remove(self.path)  # the recorder's WebM file: not written here
        self.subscriber_id = f"broadcast:{session_id}"
        self.local = tempfile.mkdtemp(prefix=f"openrounds-hls-{session_id}-")
        self._hls = _HlsMixer(self.local)
        self._mixer = self._hls
        self.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.folder = broadcast_folder(session_id, self.stamp)
        self.uploader = _Uploader(self.local, self.folder)

    @property
    def master_name(self) -> str:
        return f"{self.folder}/master.m3u8"

    async def start(self) -> None:
        """Begin encoding at once; the first segments reach storage about 2 s later."""
        await asyncio.to_thread(self.uploader.start)
        self._mixer.start()
        self.started_at = time.time()
        self._follow()
        self._follow_task = asyncio.ensure_future(self._follow_loop())

    async def wait_first_segment(self, timeout: float = 15.0) -> bool:
        """Until every rendition's playlist names a segment in storage (what viewers need)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.uploader.playlists) == len(RENDITIONS) and not self._mixer.failed:
                return True
            if self._mixer.failed:
                return False
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> str | None:
        """Finish the segments and close the playlists (ENDLIST); store the recording.

        The recording is the 720p rendition's segments joined into one MP4 without
        re-encoding (packets copied): one encode for live and replay, and a single file
        like every other recording of a session. Its storage name, or None.
        """
        await self._stop()
        await asyncio.to_thread(self.uploader.stop)
        await asyncio.to_thread(self.uploader.sync, final=True)
        try:
            if self._mixer.failed or not self.uploader.uploaded:
                return None
            return await asyncio.to_thread(self._store_recording)
        finally:
            shutil.rmtree(self.local, ignore_errors=True)

    def _store_recording(self) -> str | None:
        from django.core.files import File
        from django.core.files.storage import default_storage

        from .recording import recording_folder

        text = self.uploader.playlists.get(RECORDED_RENDITION, "")
        segments = [os.path.join(self.local, RECORDED_RENDITION, name) for name in playlist_segments(text)]
        segments = [path for path in segments if os.path.exists(path)]
        if not segments:
            return None
        target = os.path.join(self.local, "recording.mp4")
        recording_remux(segments, target)
        with open(target, "rb") as handle:
            return default_storage.save(f"{recording_folder(self.session_id)}/{self.stamp}-broadcast.mp4", File(handle))

    @property
    def cpu_encode_seconds(self) -> float:
        return self._hls.encode_seconds
