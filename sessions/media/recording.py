"""Recording a session: every speaker audible, the presenter's or active speaker's picture.

The recorder is one more subscriber of the room's forwarders, so it costs the
publishers nothing. It subscribes to every audio publication and to ONE video
publication at a time (a screen share if there is one, else the active speaker's camera,
else the first camera), so it decodes one picture however many people show theirs.

Decoding, mixing and encoding run in one thread, off the event loop that forwards media:
the loop only copies packet bytes into a bounded queue. The thread keeps its own clock:
every 20 ms it mixes 20 ms of audio from each speaker's buffer (a short pre-buffer absorbs
network jitter; silence where a speaker sent nothing), and every 1/fps seconds it encodes
the latest picture of the chosen video. The result is a WebM file (VP8 + Opus) at a fixed
size, so a switch of speaker or screen never changes the stream's format. When it stops
the file is stored through `default_storage`; the worker keeps it with the session when
the session ends (`sessions/media/worker.py`).

Why pieces: a worker killed with SIGKILL (a crashed machine) never stores its file. So
while it records, every `MEDIA_RECORDING_CHECKPOINT_SECONDS` (5 s) the recorder also
stores the bytes written since the last checkpoint as a numbered piece in
`<folder>/pending/<start>-<worker>/`. The muxer closes a WebM cluster at least every
second and flushes each packet, so the pieces joined end to end are always a playable
WebM file (without a duration, like a live stream's). When the recorder stops normally
the whole file is stored and its pieces deleted; when its worker died, the worker that
takes the session over (or ends it) joins the dead worker's pieces into a recording
(`recording_pieces_recover`). What is lost is what was written after the last piece:
at most the checkpoint interval plus the open cluster (about 6 s by default).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import av

if TYPE_CHECKING:
    from .sfu import MediaRoom, Publication

logger = logging.getLogger(__name__)

SAMPLE_RATE = 48000
AUDIO_TICK_SAMPLES = 960  # 20 ms
PREBUFFER_SAMPLES = 2880  # 60 ms before a speaker is mixed in
MAX_BUFFER_SAMPLES = 14400  # 300 ms: older audio is dropped to keep the mix in sync
FOLLOW_INTERVAL = 0.3


def checkpoint_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "MEDIA_RECORDING_CHECKPOINT_SECONDS", 5.0))


def recording_folder(session_id: int) -> str:
    """Where a session's finished recordings are stored (through `default_storage`).

    A consult's recordings stay here, read only through the consult part's audited
    selectors (`sessions.consults.selectors.consult_recordings_list`); other sessions'
    move to the library when the session ends.
    """
    return f"recordings/session-{int(session_id)}"


@dataclass(frozen=True)
class RecordingFormat:
    width: int = 640
    height: int = 360
    fps: int = 15
    video_bit_rate: int = 700_000
    audio_bit_rate: int = 48_000


class _Mixer:
    """The thread that decodes, mixes, encodes and writes the file."""

    def __init__(self, path: str, fmt: RecordingFormat) -> None:
        self.path = path
        self.fmt = fmt
        self.inbox: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(maxsize=2000)
        self.video_frames = 0
        self.audio_frames = 0
        self.failed = False
        self._thread = threading.Thread(target=self._run, name="media-recorder", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def put(self, kind: str, track_id: str, data: bytes) -> None:
        try:
            self.inbox.put_nowait((kind, track_id, data))
        except queue.Full:
            pass  # the thread is behind: losing a packet beats growing without bound

    def finish(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self.inbox.put_nowait(None)
        self._thread.join(30)

    # ----------------------------------------------------------- the thread

    def _run(self) -> None:
        try:
            self._record()
        except Exception:
            self.failed = True
            logger.exception("recording failed")

    def _record(self) -> None:
        fmt = self.fmt
        # Flush every packet and close a cluster at least every second: the file on disk is
        # always a playable prefix, which the checkpoints store as pieces.
        container = av.open(self.path, mode="w", format="webm",
                            container_options={"flush_packets": "1", "cluster_time_limit": "1000"})
        try:
            vstream = container.add_stream("libvpx", rate=fmt.fps)
            vstream.width, vstream.height, vstream.pix_fmt = fmt.width, fmt.height, "yuv420p"
            vstream.bit_rate = fmt.video_bit_rate
            vstream.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
            astream = container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
            astream.bit_rate = fmt.audio_bit_rate
            black = av.VideoFrame(fmt.width, fmt.height, "yuv420p")
            for index, plane in enumerate(black.planes):
                plane.update(bytes([16 if index == 0 else 128]) * plane.buffer_size)

            def mix_audio(buffers: dict[str, bytearray], playing: set[str], tick: int) -> None:
                self._mix(container, astream, buffers, playing, tick)

            def encode_video(picture: av.VideoFrame | None, tick: int) -> None:
                out = picture if picture is not None else black
                frame = out.reformat(width=fmt.width, height=fmt.height, format="yuv420p")
                frame.pts, frame.time_base = tick, fractions.Fraction(1, fmt.fps)
                for packet in vstream.encode(frame):
                    container.mux(packet)
                self.video_frames += 1

            self._run_clock(fmt.fps, mix_audio, encode_video)
            for packet in vstream.encode(None):
                container.mux(packet)
            for packet in astream.encode(None):
                container.mux(packet)
        finally:
            container.close()

    def _run_clock(
        self, fps: int, mix_audio: Callable[[dict[str, bytearray], set[str], int], None],
        encode_video: Callable[[av.VideoFrame | None, int], None],
    ) -> None:
        """The thread's own clock, until stopped: decode what arrives, and on time mix 20 ms
        of audio (`mix_audio(buffers, playing, tick)`) and encode the latest picture of the
        chosen video (`encode_video(picture, tick)`, None before anyone shows one).

        Shared by the recorder (one WebM file) and the broadcaster (three HLS renditions):
        only what they write differs.
        """
        decoders: dict[str, Any] = {}
        resamplers: dict[str, av.AudioResampler] = {}
        buffers: dict[str, bytearray] = {}
        playing: set[str] = set()
        picture: av.VideoFrame | None = None
        video_track: str | None = None
        start = time.monotonic()
        audio_ticks = video_ticks = 0
        while True:
            now = time.monotonic() - start
            next_audio = (audio_ticks + 1) * AUDIO_TICK_SAMPLES / SAMPLE_RATE
            next_video = (video_ticks + 1) / fps
            try:
                item: tuple[str, str, bytes] | tuple[()] | None = self.inbox.get(
                    timeout=max(0.0, min(next_audio, next_video) - now))
            except queue.Empty:
                item = ()
            if item is None or (self._stop.is_set() and self.inbox.empty()):
                return
            if item:
                kind, track_id, data = item
                if kind == "audio":
                    self._decode_audio(track_id, data, decoders, resamplers, buffers)
                else:
                    if track_id != video_track:
                        video_track = track_id
                        decoders.pop("video", None)
                    frame = self._decode_video(data, decoders)
                    if frame is not None:
                        picture = frame
            now = time.monotonic() - start
            while (audio_ticks + 1) * AUDIO_TICK_SAMPLES / SAMPLE_RATE <= now:
                mix_audio(buffers, playing, audio_ticks)
                audio_ticks += 1
            while (video_ticks + 1) / fps <= now:
                encode_video(picture, video_ticks)
                video_ticks += 1

    @staticmethod
    def _decode_audio(
        track_id: str, data: bytes, decoders: dict[str, Any], resamplers: dict[str, av.AudioResampler],
        buffers: dict[str, bytearray],
    ) -> None:
        decoder = decoders.get(track_id)
        if decoder is None:
            decoder = decoders[track_id] = av.CodecContext.create("opus", "r")
            resamplers[track_id] = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            frames = decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return
        buffer = buffers.setdefault(track_id, bytearray())
        for frame in frames:
            frame.pts = None
            for mono in resamplers[track_id].resample(frame):
                buffer += bytes(mono.planes[0])[: mono.samples * 2]
        excess = len(buffer) - MAX_BUFFER_SAMPLES * 2
        if excess > 0:
            del buffer[:excess]

    @staticmethod
    def _decode_video(data: bytes, decoders: dict[str, Any]) -> av.VideoFrame | None:
        decoder = decoders.get("video")
        if decoder is None:
            decoder = decoders["video"] = av.CodecContext.create("vp8", "r")
        try:
            frames = decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return None
        return frames[-1] if frames else None

    def _mix(self, container: Any, astream: Any, buffers: dict[str, bytearray], playing: set[str], tick: int) -> None:
        size = AUDIO_TICK_SAMPLES * 2
        chunks: list[bytes] = []
        for track_id, buffer in buffers.items():
            if track_id not in playing:
                if len(buffer) < PREBUFFER_SAMPLES * 2:
                    continue
                playing.add(track_id)
            chunk = bytes(buffer[:size])
            del buffer[:size]
            if len(buffer) == 0:
                playing.discard(track_id)  # ran dry: pre-buffer again before mixing it in
            chunks.append(chunk.ljust(size, b"\0"))
        if not chunks:
            mixed = bytes(size)
        elif len(chunks) == 1:
            mixed = chunks[0]
        else:
            sums = [0] * AUDIO_TICK_SAMPLES
            for chunk in chunks:
                samples = array.array("h", chunk)
                sums = [a + b for a, b in zip(sums, samples)]
            mixed = array.array("h", (max(-32768, min(32767, v)) for v in sums)).tobytes()
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_TICK_SAMPLES)
        frame.planes[0].update(mixed)
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = tick * AUDIO_TICK_SAMPLES, fractions.Fraction(1, SAMPLE_RATE)
        for packet in astream.encode(frame):
            container.mux(packet)
        self.audio_frames += 1


class RoomRecorder:
    """Records one room; `start`, then `stop_and_store` (or `discard`)."""

    def __init__(
        self, room: "MediaRoom", *, session_id: int, fmt: RecordingFormat | None = None, owner: str = "local",
    ) -> None:
        self.room = room
        #: The worker recording (its id): pieces of a dead owner are recovered by another.
        self.owner = "".join(c if c.isalnum() or c in ".-" else "-" for c in owner)[:80] or "local"
        self.session_id = session_id
        self.fmt = fmt or RecordingFormat()
        self.subscriber_id = f"recorder:{session_id}"
        fd, self.path = tempfile.mkstemp(prefix=f"openrounds-rec-{session_id}-", suffix=".webm")
        os.close(fd)
        self._mixer = _Mixer(self.path, self.fmt)
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._video: "Publication | None" = None
        self._follow_task: asyncio.Task[None] | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self.started_at: float | None = None
        self.pieces_stored = 0
        self._stored_bytes = 0

    @property
    def video_track(self) -> str | None:
        return self._video.track_id if self._video else None

    async def start(self) -> None:
        self._mixer.start()
        self.started_at = time.time()
        self._follow()
        self._follow_task = asyncio.ensure_future(self._follow_loop())
        if checkpoint_seconds() > 0:
            self._checkpoint_task = asyncio.ensure_future(self._checkpoints())

    @property
    def pieces_folder(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started_at or time.time()))
        return f"{recording_folder(self.session_id)}/pending/{stamp}-{self.owner}"

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(checkpoint_seconds())
            try:
                await asyncio.to_thread(self._store_piece)
            except Exception:
                logger.warning("session %s: a recording checkpoint was not stored", self.session_id, exc_info=True)

    def _store_piece(self) -> None:
        """Store what the muxer wrote since the last piece (nothing if it wrote nothing)."""
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        with open(self.path, "rb") as handle:
            handle.seek(self._stored_bytes)
            data = handle.read()
        if not data:
            return
        default_storage.save(f"{self.pieces_folder}/{self.pieces_stored:06d}", ContentFile(data))
        self.pieces_stored += 1
        self._stored_bytes += len(data)

    def _delete_pieces(self) -> None:
        storage_folder_delete(self.pieces_folder)

    async def _follow_loop(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL)
            try:
                self._follow()
            except Exception:
                logger.exception("session %s: recorder could not follow the room", self.session_id)

    def _follow(self) -> None:
        """Subscribe to new audio, and to the video that should be on the picture now."""
        publications = [p for p in self.room.publications() if not p.forwarder.closed]
        for pub in publications:
            if pub.kind == "audio" and pub.track_id not in self._readers:
                self._read(pub)
        for track_id in [t for t, task in self._readers.items() if task.done()]:
            del self._readers[track_id]
        chosen = self._choose_video(publications)
        if chosen is not self._video:
            if self._video is not None:
                self._video.forwarder.remove_subscriber(self.subscriber_id)
                self._readers.pop(self._video.track_id, None)
            self._video = chosen
            if chosen is not None:
                self._read(chosen)

    def _choose_video(self, publications: list["Publication"]) -> "Publication | None":
        videos = [p for p in publications if p.kind == "video"]
        screens = [p for p in videos if p.source == "screen"]
        if screens:
            return screens[-1]
        speaker = self.room.active_speaker
        for pub in videos:
            if pub.publisher_id == speaker:
                return pub
        if self._video is not None and self._video in videos:
            return self._video
        return videos[0] if videos else None

    def _read(self, pub: "Publication") -> None:
        subscription = pub.forwarder.add_subscriber(self.subscriber_id)
        mixer = self._mixer

        async def pump() -> None:
            while True:
                frame = await subscription.get()
                if frame is None:
                    return
                mixer.put(pub.kind, pub.track_id, bytes(frame.packet))

        self._readers[pub.track_id] = asyncio.ensure_future(pump())

    async def _stop(self) -> None:
        if self._follow_task is not None:
            self._follow_task.cancel()
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
        for pub in self.room.publications():
            pub.forwarder.remove_subscriber(self.subscriber_id)
        for task in self._readers.values():
            task.cancel()
        self._readers.clear()
        await asyncio.to_thread(self._mixer.finish)

    async def stop_and_store(self) -> str | None:
        """Finish the file and store it; the storage name, or None if nothing was recorded."""
        await self._stop()
        try:
            if self._mixer.failed or self._mixer.video_frames == 0 or os.path.getsize(self.path) == 0:
                return None
            return await asyncio.to_thread(self._store)
        finally:
            with contextlib.suppress(OSError):
                os.remove(self.path)
            await asyncio.to_thread(self._delete_pieces)

    def _store(self) -> str:
        from django.core.files import File
        from django.core.files.storage import default_storage

        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started_at or time.time()))
        with open(self.path, "rb") as handle:
            return default_storage.save(f"{recording_folder(self.session_id)}/{stamp}.webm", File(handle))

    async def discard(self) -> None:
        """Stop and delete: nothing of this recording is kept."""
        await self._stop()
        with contextlib.suppress(OSError):
            os.remove(self.path)
        await asyncio.to_thread(self._delete_pieces)


def storage_folder_delete(folder: str) -> int:
    """Delete every file under `folder` in storage (its subfolders too); how many."""
    from django.core.files.storage import default_storage

    try:
        folders, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    deleted = 0
    for name in files:
        with contextlib.suppress(FileNotFoundError):
            default_storage.delete(f"{folder}/{name}")
            deleted += 1
    for sub in folders:
        deleted += storage_folder_delete(f"{folder}/{sub}")
    return deleted


def recording_piece_owners(session_id: int) -> dict[str, str]:
    """Folders of pieces left in storage -> the worker that wrote them."""
    from django.core.files.storage import default_storage

    try:
        folders = default_storage.listdir(f"{recording_folder(session_id)}/pending")[0]
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {folder: folder.partition("-")[2] for folder in folders if "-" in folder}


def recording_pieces_recover(session_id: int, folders: list[str]) -> list[str]:
    """Join each folder's pieces (a dead worker's recording) into one stored recording.

    Returns the storage names of the recordings made; the pieces are deleted. The result
    plays like a live stream's recording (no duration in its header) up to the last piece.
    """
    from django.core.files import File
    from django.core.files.storage import default_storage

    names = []
    pending = f"{recording_folder(session_id)}/pending"
    for folder in folders:
        try:
            pieces = sorted(default_storage.listdir(f"{pending}/{folder}")[1])
        except (FileNotFoundError, NotADirectoryError):
            continue
        if pieces:
            with tempfile.TemporaryFile() as joined:
                for piece in pieces:
                    with default_storage.open(f"{pending}/{folder}/{piece}", "rb") as part:
                        joined.write(part.read())
                joined.seek(0)
                stamp = folder.partition("-")[0]
                names.append(default_storage.save(f"{recording_folder(session_id)}/{stamp}-recovered.webm",
                                                  File(joined, name="recovered.webm")))
            logger.warning("session %s: recovered a recording of %d piece(s) from worker %s",
                           session_id, len(pieces), folder.partition("-")[2])
        storage_folder_delete(f"{pending}/{folder}")
    return names
