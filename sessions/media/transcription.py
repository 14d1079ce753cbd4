"""Automatic live captions: the media worker transcribes what is said, on this machine.

Why in the worker, and local: the worker already receives every speaker's encoded audio;
clinical and student audio must never leave the deployment, so no cloud service is
asked. The engine sits behind one small interface (`SpeechEngine`) chosen by settings
(`MEDIA_CAPTIONS_ENGINE`): `pocketsphinx` ships an English model inside its package (no
download, about a third of a core per speaking stream on this machine, rough accuracy);
a deployment that wants quality plugs in another engine (faster-whisper or whisper.cpp
with a model file it configures) by implementing the same three methods — not built here.

Like the recorder, the transcriber is one more subscriber of the room's audio
forwarders, so it costs the publishers nothing. Per speaker it decodes Opus, resamples
to 16 kHz mono, cuts utterances at 0.6 s of quiet (or 12 s of speech), and hands each to
the engine in a thread off the event loop. A finished utterance becomes the room event
`caption.line` (`"source": "auto"`), the same event a human captioner writes: shown in the
captions region, replayed to late joiners, part of the recording's WebVTT. Consults are
never transcribed, and only the session's primary worker transcribes (one line per
utterance however many workers carry the session).
"""

from __future__ import annotations

import array
import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import av

if TYPE_CHECKING:
    from .sfu import MediaRoom, Publication

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: An utterance ends after this much quiet, or at this length.
QUIET_SECONDS = 0.6
MAX_UTTERANCE_SECONDS = 12.0
#: RMS of 16-bit samples under which a 20 ms frame counts as quiet.
QUIET_RMS = 300.0


class SpeechEngine(Protocol):
    """One utterance at a time: what was said in 16 kHz mono 16-bit PCM."""

    def transcribe(self, pcm: bytes) -> str: ...


class PocketsphinxEngine:
    """CMU pocketsphinx with the US English model in its package."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def transcribe(self, pcm: bytes) -> str:
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""


ENGINES: dict[str, Callable[[], SpeechEngine]] = {"pocketsphinx": PocketsphinxEngine}


def captions_engine_name() -> str:
    from django.conf import settings

    return str(getattr(settings, "MEDIA_CAPTIONS_ENGINE", "") or "").strip().lower()


def speech_engine() -> SpeechEngine | None:
    """The configured engine, or None (automatic captions off, or an unknown engine: logged)."""
    name = captions_engine_name()
    if not name:
        return None
    factory = ENGINES.get(name)
    if factory is None:
        logger.error("MEDIA_CAPTIONS_ENGINE=%r is not an engine of this build (%s): no automatic captions",
                     name, ", ".join(sorted(ENGINES)))
        return None
    return factory()


def _rms(samples: array.array) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


class _Speaker:
    """One speaker's audio: Opus in, utterances out."""

    def __init__(self) -> None:
        self.decoder = av.CodecContext.create("opus", "r")
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self.pcm = bytearray()
        self.quiet = 0.0
        self.voiced = False

    def add(self, opus: bytes) -> bytes | None:
        """Feed one packet; a finished utterance's PCM when one ends."""
        for frame in self.decoder.decode(av.Packet(opus)):
            for out in self.resampler.resample(frame):
                chunk = bytes(out.planes[0])[: out.samples * 2]
                samples = array.array("h", chunk)
                seconds = out.samples / SAMPLE_RATE
                if _rms(samples) < QUIET_RMS:
                    self.quiet += seconds
                else:
                    self.quiet = 0.0
                    self.voiced = True
                self.pcm += chunk
        length = len(self.pcm) / (2 * SAMPLE_RATE)
        if self.voiced and (self.quiet >= QUIET_SECONDS or length >= MAX_UTTERANCE_SECONDS):
            utterance, self.pcm, self.voiced, self.quiet = bytes(self.pcm), bytearray(), False, 0.0
            return utterance
        if not self.voiced and length > QUIET_SECONDS:
            self.pcm.clear()  # silence before anyone speaks is not kept
        return None


class RoomTranscriber:
    """Transcribes every audio publication of a room; `on_line(publisher_id, text)` per utterance."""

    def __init__(self, room: "MediaRoom", *, engine: SpeechEngine,
                 on_line: Callable[[str, str], Awaitable[None]], follow_interval: float = 0.3) -> None:
        self.room = room
        self.engine = engine
        self.on_line = on_line
        self.subscriber_id = f"captions:{room.room_id}"
        self.follow_interval = follow_interval
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._follow_task: asyncio.Task[None] | None = None
        #: One engine call at a time (pocketsphinx's decoder is not reentrant).
        self._engine_lock = asyncio.Lock()
        self.utterances = 0
        self.busy_seconds = 0.0

    def start(self) -> None:
        self._follow_task = asyncio.ensure_future(self._follow_loop())

    async def stop(self) -> None:
        if self._follow_task is not None:
            self._follow_task.cancel()
        for pub in self.room.publications():
            pub.forwarder.remove_subscriber(self.subscriber_id)
        for task in self._readers.values():
            task.cancel()
        self._readers.clear()

    async def _follow_loop(self) -> None:
        while True:
            for pub in self.room.publications():
                if pub.kind == "audio" and not pub.forwarder.closed and pub.track_id not in self._readers:
                    self._readers[pub.track_id] = asyncio.ensure_future(self._listen(pub))
            for track_id in [t for t, task in self._readers.items() if task.done()]:
                del self._readers[track_id]
            await asyncio.sleep(self.follow_interval)

    async def _listen(self, pub: "Publication") -> None:
        queue = pub.forwarder.add_subscriber(self.subscriber_id)
        speaker = _Speaker()
        while True:
            frame = await queue.get()
            if frame is None:
                return
            try:
                utterance = speaker.add(bytes(frame.packet))
            except av.error.FFmpegError:
                continue  # a damaged packet: the next one decodes
            if utterance is not None:
                asyncio.ensure_future(self._transcribe(pub.publisher_id, utterance))

    async def _transcribe(self, publisher_id: str, pcm: bytes) -> None:
        async with self._engine_lock:
            started = time.process_time()
            try:
                text = await asyncio.to_thread(self.engine.transcribe, pcm)
            except Exception:
                logger.exception("room %s: transcription failed", self.room.room_id)
                return
            self.busy_seconds += time.process_time() - started
        self.utterances += 1
        if text:
            try:
                await self.on_line(publisher_id, text)
            except Exception:
                logger.exception("room %s: a caption line was not stored", self.room.room_id)
