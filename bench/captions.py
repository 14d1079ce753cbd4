"""Automatic captions: the delay from the end of speech to its caption, and the CPU it takes.

Run: ``.venv/bin/python bench/captions.py`` (no network; about a minute; ``--rounds``).

A speaker's Opus audio (espeak-ng saying "good morning everyone welcome to the lecture",
tests/sessions/media/speech_good_morning.ogg, 0.3 s lead-in, 2 s of silence after) is
pushed in real time, 20 ms a packet, into a publication's forwarder, exactly as the
receiver tap does; `RoomTranscriber` (sessions/media/transcription.py) with the
pocketsphinx engine listens as it does in the media worker. Measured per round:

* delay: from the moment the last packet of speech was pushed to the moment the caption
  line is handed over (the worker then stores it as a room event: a few ms more);
* CPU: the process's CPU time (all threads) during the round, per second of audio.

The delay is bounded below by the quiet that ends an utterance (`QUIET_SECONDS`, 0.6 s)
plus the engine's time on the utterance.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings.test")

import av  # noqa: E402
import django  # noqa: E402

django.setup()

from sessions.media.forwarding import TrackForwarder  # noqa: E402
from sessions.media.room_parts import Publication  # noqa: E402
from sessions.media.tap import TappedFrame  # noqa: E402
from sessions.media.transcription import PocketsphinxEngine, RoomTranscriber  # noqa: E402

SPEECH = Path(__file__).resolve().parent.parent / "tests/sessions/media/speech_good_morning.ogg"
TRAILING_SILENCE = 2.0


class _Room:
    def __init__(self, publication: Publication) -> None:
        self.room_id = "bench"
        self._publication = publication

    def publications(self) -> list[Publication]:
        return [self._publication]


def opus_packets() -> list[bytes]:
    with av.open(str(SPEECH)) as container:
        return [bytes(packet) for packet in container.demux(audio=0) if packet.size]


async def one_round(packets: list[bytes], engine: PocketsphinxEngine) -> dict[str, float | str]:
    forwarder = TrackForwarder(kind="audio", request_keyframe=lambda: None, label="bench:0")
    publication = Publication(publisher_id="1", track_id="1:0", kind="audio", source="audio", mid="0", forwarder=forwarder)
    lines: list[tuple[float, str]] = []

    async def on_line(publisher_id: str, text: str) -> None:
        lines.append((time.perf_counter(), text))

    transcriber = RoomTranscriber(_Room(publication), engine=engine, on_line=on_line, follow_interval=0.01)
    transcriber.start()
    await asyncio.sleep(0.05)
    speech_packets = len(packets) - int(TRAILING_SILENCE / 0.02)
    cpu_start, started = time.process_time(), time.perf_counter()
    speech_end = 0.0
    for index, data in enumerate(packets):
        packet = av.Packet(data)
        packet.pts = packet.dts = index * 960
        packet.time_base = fractions.Fraction(1, 48000)
        forwarder.push(TappedFrame(packet=packet, mime_type="audio/opus", ssrc=1, audio_level=None, arrival=time.perf_counter()))
        if index == speech_packets - 1:
            speech_end = time.perf_counter()
        await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - time.perf_counter()))
    await asyncio.sleep(0.5)
    cpu = time.process_time() - cpu_start
    audio_seconds = len(packets) * 0.02
    await transcriber.stop()
    forwarder.close()
    if not lines:
        return {"delay_s": float("nan"), "cpu_per_audio_second": cpu / audio_seconds, "text": ""}
    return {"delay_s": lines[0][0] - speech_end, "cpu_per_audio_second": cpu / audio_seconds, "text": lines[0][1]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    with open("/proc/loadavg") as handle:
        load_before = handle.read().split()[0]
    packets = opus_packets()
    engine = await asyncio.to_thread(PocketsphinxEngine)
    rounds = [await one_round(packets, engine) for _ in range(max(1, args.rounds))]
    delays = sorted(r["delay_s"] for r in rounds if r["delay_s"] == r["delay_s"])  # NaN: no line
    with open("/proc/loadavg") as handle:
        load_after = handle.read().split()[0]
    result = {
        "rounds": len(rounds), "captioned": len(delays),
        "delay_p50_s": round(statistics.median(delays), 3) if delays else None,
        "delay_p95_s": round(delays[min(len(delays) - 1, int(0.95 * len(delays)))], 3) if delays else None,
        "cpu_percent_of_a_core": round(100 * statistics.mean(float(r["cpu_per_audio_second"]) for r in rounds), 1),
        "heard": sorted({str(r["text"]) for r in rounds}),
        "load": {"before": load_before, "after": load_after},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
