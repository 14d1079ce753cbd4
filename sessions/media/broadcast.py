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

Handover (a drained or dead worker): the broadcast is not stopped but continued by the
session's next primary worker in the *same* folder: it reads the stored playlists, numbers
its segments after the last one stored, and appends them after an `#EXT-X-DISCONTINUITY`
(the encoder's clock starts again), so the media sequence goes on and players keep
playing (`continue_from`). The recording made at the end covers every part: segments
this worker does not have on disk are read back from storage, and the parts' timestamps
are joined end to end (`recording_remux`), still without a second encode. A continued
broadcast that stops before a segment of its own still closes the stored playlists as
they were and makes the recording of the earlier parts; one that nobody continued is
closed from storage alone (`broadcast_stored_close`, the host's Stop).
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


_SEGMENT_NUMBER = re.compile(r"^seg-(\d{6})\.ts$")


def playlist_next_number(texts: list[str]) -> int:
    """The first segment number after every segment the playlists name (0 for none)."""
    numbers = [int(m.group(1)) for text in texts for name in playlist_segments(text)
               if (m := _SEGMENT_NUMBER.match(name))]
    return max(numbers) + 1 if numbers else 0


def playlist_continued(previous: str, current: str) -> str:
    """`previous` (a stored media playlist, still open) followed by the segments of `current`.

    One `#EXT-X-DISCONTINUITY` between them (a new encoder: timestamps start again), the
    media sequence of `previous` kept, the larger target duration of the two.
    """
    head_end = previous.find("#EXTINF")
    body_start = current.find("#EXTINF")
    if body_start < 0:
        return previous
    old = previous.replace("#EXT-X-ENDLIST", "").rstrip("\n")
    durations = [int(line.split(":", 1)[1]) for text in (previous, current) for line in text.splitlines()
                 if line.startswith("#EXT-X-TARGETDURATION:") and line.split(":", 1)[1].strip().isdigit()]
    if durations and head_end >= 0:
        head = re.sub(r"#EXT-X-TARGETDURATION:\d+", f"#EXT-X-TARGETDURATION:{max(durations)}", old[:head_end], count=1)
        old = head + old[head_end:]
    return f"{old}\n#EXT-X-DISCONTINUITY\n{current[body_start:]}"


def playlist_parts(text: str) -> list[list[str]]:
    """The segments of a media playlist in its parts (split at each discontinuity)."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "#EXT-X-DISCONTINUITY" and parts[-1]:
            parts.append([])
        elif _SEGMENT_LINE.match(stripped):
            parts[-1].append(stripped)
    return [part for part in parts if part]


class _Uploader:
    """Copies what the muxers finished into storage: segments first, then each playlist.

    ``previous``: the stored playlists of the broadcast this one continues (a handover);
    what is uploaded then is each of them with the new segments appended.
    """

    def __init__(self, local: str, folder: str, previous: dict[str, str] | None = None) -> None:
        self.local = local
        self.folder = folder
        self.previous = previous or {}
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

    def sync(self, *, final: bool = False, open_end: bool = False) -> None:
        """Upload new segments of every rendition, then its playlist if it changed.

        ``final``: close the playlists (ENDLIST); ``open_end``: leave them open although
        the muxer closed its own (a handover: the next worker continues them).
        """
        for rendition in RENDITIONS:
            local_playlist = os.path.join(self.local, rendition.name, "index.m3u8")
            try:
                with open(local_playlist, encoding="utf-8") as handle:
                    text = handle.read()
            except FileNotFoundError:
                if final and rendition.name in self.previous:
                    self._close_previous(rendition.name)  # continued, stopped before a segment of its own
                continue
            local_text = text
            if rendition.name in self.previous:
                text = playlist_continued(self.previous[rendition.name], text)
            if open_end:
                text = text.replace("#EXT-X-ENDLIST\n", "").replace("#EXT-X-ENDLIST", "")
            if final and "#EXT-X-ENDLIST" not in text:
                text = text.rstrip("\n") + "\n#EXT-X-ENDLIST\n"
            if text == self.playlists.get(rendition.name):
                continue
            try:
                for segment in playlist_segments(local_text):
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

    def _close_previous(self, name: str) -> None:
        """Close a rendition's stored playlist as it was (ENDLIST): this encoder added nothing."""
        text = playlist_closed(self.previous[name])
        if text == self.playlists.get(name):
            return
        try:
            broadcast_file_save(f"{self.folder}/{name}/index.m3u8", text.encode(),
                                content_type="application/vnd.apple.mpegurl", cache_control=PLAYLIST_CACHE)
            self.playlists[name] = text
        except Exception:
            self.failures += 1
            logger.warning("broadcast %s: closing the %s playlist failed", self.folder, name, exc_info=True)


def playlist_closed(text: str) -> str:
    """A media playlist ended: `#EXT-X-ENDLIST` once, at its end."""
    return text if "#EXT-X-ENDLIST" in text else text.rstrip("\n") + "\n#EXT-X-ENDLIST\n"


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

    def __init__(self, local: str, start_number: int = 0) -> None:
        super().__init__(os.path.join(local, "unused"), None)  # type: ignore[arg-type]
        self.local = local
        #: The first segment's number: after the stored ones when this continues a broadcast.
        self.start_number = start_number
        self.encode_seconds = 0.0

    def _open(self, rendition: Rendition) -> tuple[Any, Any, Any]:
        folder = os.path.join(self.local, rendition.name)
        os.makedirs(folder, exist_ok=True)
        container = av.open(os.path.join(folder, "index.m3u8"), mode="w", format="hls", options={
            "hls_time": str(SEGMENT_SECONDS), "hls_list_size": "0", "hls_playlist_type": "event",
            "hls_segment_type": "mpegts", "hls_flags": "temp_file+independent_segments",
            "hls_segment_filename": os.path.join(folder, "seg-%06d.ts"), "start_number": str(self.start_number),
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


def recording_remux(parts: list[list[str]], target: str) -> None:
    """Join MPEG-TS segments into one MP4 (faststart), copying packets: no second encode.

    ``parts``: the segments of each encoder in turn (one part unless the broadcast was
    handed over). Each part's clock starts again, so its timestamps are moved to begin
    where the previous part ended: one file with one time line.
    """
    joined = [f"{target}.{index}.ts" for index in range(len(parts))]
    for path, segments in zip(joined, parts):
        with open(path, "wb") as out:
            for segment in segments:
                with open(segment, "rb") as piece:
                    shutil.copyfileobj(piece, out)
    sources = [av.open(path, format="mpegts") for path in joined]
    try:
        with av.open(target, mode="w", format="mp4", options={"movflags": "+faststart"}) as output:
            streams: dict[str, Any] = {}
            for stream in sources[0].streams:
                if stream.type in ("audio", "video") and stream.type not in streams:
                    streams[stream.type] = output.add_stream_from_template(stream)
            ended = 0.0  # seconds: where the previous part ended
            for source in sources:
                kept = [s for s in source.streams if s.type in streams]
                starts = [float(s.start_time * s.time_base) for s in kept if s.start_time is not None and s.time_base]
                first: float | None = min(starts) if starts else None
                last = ended
                for packet in source.demux(*kept):
                    if packet.dts is None or packet.pts is None or packet.time_base is None:
                        continue
                    seconds = float(packet.dts * packet.time_base)
                    if first is None:
                        first = seconds
                    shift = int(round((ended - first) / packet.time_base))
                    packet.dts += shift
                    packet.pts += shift
                    last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                    packet.stream = streams[packet.stream.type]
                    output.mux(packet)
                ended = last
    finally:
        for source in sources:
            source.close()
        for path in joined:
            with contextlib.suppress(OSError):
                os.remove(path)


def _picture(picture: av.VideoFrame | None, rendition: Rendition) -> av.VideoFrame:
    """The chosen picture at the rendition's size (black before anyone shows one)."""
    if picture is None:
        black = av.VideoFrame(rendition.width, rendition.height, "yuv420p")
        for index, plane in enumerate(black.planes):
            plane.update(bytes([16 if index == 0 else 128]) * plane.buffer_size)
        return black
    return picture.reformat(width=rendition.width, height=rendition.height, format="yuv420p")


def broadcast_stored_close(session_id: int, folder: str) -> str | None:
    """End a broadcast no encoder writes any more (handed over, never continued): close every
    stored playlist (ENDLIST) and keep its 720p segments as the session's recording.

    The storage name of the recording, or None (nothing stored). A rendition that cannot be
    read is left as it is (never rewritten from nothing).
    """
    stored = broadcast_stored_playlists(folder)
    for name, text in stored.items():
        closed = playlist_closed(text)
        if closed != text:
            broadcast_file_save(f"{folder}/{name}/index.m3u8", closed.encode(),
                                content_type="application/vnd.apple.mpegurl", cache_control=PLAYLIST_CACHE)
    playlist = stored.get(RECORDED_RENDITION, "")
    if not playlist_segments(playlist):
        return None
    local = tempfile.mkdtemp(prefix=f"openrounds-hls-{int(session_id)}-")
    try:
        return broadcast_recording_store(session_id, folder, playlist, local)
    finally:
        shutil.rmtree(local, ignore_errors=True)


def broadcast_recording_store(session_id: int, folder: str, playlist: str, local: str) -> str | None:
    """The 720p segments `playlist` lists, joined into one MP4 (packets copied) and stored as
    the session's recording; its storage name, or None if no segment could be had.

    Segments are taken from `local` (this encoder's own) or read back from storage (the
    parts earlier workers encoded).
    """
    from django.core.files import File
    from django.core.files.storage import default_storage

    from .recording import recording_folder

    parts = [[_segment_local(folder, local, name) for name in part] for part in playlist_parts(playlist)]
    parts = [[path for path in part if path] for part in parts]
    parts = [part for part in parts if part]
    if not parts:
        return None
    target = os.path.join(local, "recording.mp4")
    recording_remux(parts, target)
    stamp = folder.rstrip("/").rsplit("/", 1)[-1]
    with open(target, "rb") as handle:
        return default_storage.save(f"{recording_folder(session_id)}/{stamp}-broadcast.mp4", File(handle))


def _segment_local(folder: str, local: str, name: str) -> str:
    """A 720p segment's local path: this worker's own, or read back from storage (a part an
    earlier worker of a handed-over broadcast encoded); "" if it is gone."""
    from django.core.files.storage import default_storage

    path = os.path.join(local, RECORDED_RENDITION, name)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with default_storage.open(f"{folder}/{RECORDED_RENDITION}/{name}", "rb") as stored, open(path, "wb") as out:
            shutil.copyfileobj(stored, out)
    except Exception:
        logger.warning("broadcast %s: segment %s is missing from storage", folder, name)
        with contextlib.suppress(OSError):
            os.remove(path)
        return ""
    return path


def broadcast_stored_playlists(folder: str) -> dict[str, str]:
    """The media playlists of a broadcast as stored, by rendition (those that exist)."""
    from django.core.files.storage import default_storage

    found = {}
    for rendition in RENDITIONS:
        try:
            with default_storage.open(f"{folder}/{rendition.name}/index.m3u8", "rb") as stored:
                found[rendition.name] = stored.read().decode("utf-8")
        except Exception:  # missing (S3: a ClientError; files: FileNotFoundError)
            continue
    return found


class RoomBroadcaster(RoomRecorder):
    """Broadcasts one room; `start`, then `stop` (or `hand_over`): the recorder's
    subscriptions, HLS output.

    ``continue_from``: the storage folder of a broadcast a drained or dead worker ran; this
    one goes on in it (read its stored playlists first: `broadcast_stored_playlists`).
    """

    def __init__(
        self, room: "MediaRoom", *, session_id: int, owner: str = "local",
        continue_from: str = "", previous: dict[str, str] | None = None,
    ) -> None:
        broadcast_encoders_check()
        super().__init__(room, session_id=session_id, owner=owner)
        with contextlib.suppress(OSError):
            os.remove(self.path)  # the recorder's WebM file: not written here
        self.subscriber_id = f"broadcast:{session_id}"
        self.local = tempfile.mkdtemp(prefix=f"openrounds-hls-{session_id}-")
        previous = previous or {}
        self._hls = _HlsMixer(self.local, start_number=playlist_next_number(list(previous.values())))
        self._mixer = self._hls
        if continue_from:
            self.folder = continue_from
            self.stamp = continue_from.rstrip("/").rsplit("/", 1)[-1]
        else:
            self.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self.folder = broadcast_folder(session_id, self.stamp)
        self.continued = bool(continue_from)
        self.uploader = _Uploader(self.local, self.folder, previous)

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

    async def hand_over(self) -> None:
        """This worker leaves (a drain): finish and upload the segments, leave the playlists
        open (no ENDLIST) for the next worker to continue (`continue_from`)."""
        await self._stop()
        await asyncio.to_thread(self.uploader.stop)
        await asyncio.to_thread(self.uploader.sync, open_end=True)
        shutil.rmtree(self.local, ignore_errors=True)

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
            if not self.continued and (self._mixer.failed or not self.uploader.uploaded):
                return None
            # A continued broadcast keeps the earlier parts even if this encoder added nothing.
            playlist = self.uploader.playlists.get(RECORDED_RENDITION, "")
            if not playlist_segments(playlist):
                return None
            return await asyncio.to_thread(broadcast_recording_store, self.session_id, self.folder, playlist, self.local)
        finally:
            shutil.rmtree(self.local, ignore_errors=True)

    @property
    def cpu_encode_seconds(self) -> float:
        return self._hls.encode_seconds
