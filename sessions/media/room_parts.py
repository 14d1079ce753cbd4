"""What a media room is made of: its settings, errors, publications and participants.

Why apart from `sfu.py`: these are the plain data the room's state machine works on, and
the cascade (`cascade.py`) and the recorder build on them too; `sfu.py` keeps the
behaviour (negotiation, subscriptions, rights, quality).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpTransceiver
from aiortc import sdp as aiortc_sdp
from aiortc.rtcconfiguration import RTCBundlePolicy

from .forwarding import SubscriberSlot, TrackForwarder
from .lowres import CAMERA_PROFILE, SCREEN_PROFILE, LowQualityCopy
from .quality import AutoQuality, AutoQualityPolicy
from .tap import IceRestriction, ReceiverTap

logger = logging.getLogger(__name__)

#: Subscription kinds; "video" means both camera and screen.
SOURCES = ("audio", "camera", "screen")


#: What a subscriber receives of every video it subscribes to: the original,
#: the room's shared low-resolution copy, or nothing (audio only).
VIDEO_QUALITIES = ("high", "low", "off")


#: What a subscriber may ask for: one of those, or "auto" (the server picks high or
#: low from the subscriber's bandwidth estimate; the default).
QUALITY_MODES = ("auto", *VIDEO_QUALITIES)


ALL_PUBLISHERS = "*"


MAX_SDP_BYTES = 64 * 1024


#: Publishers one participant may name in subscriptions (besides "everyone").
MAX_SUBSCRIBED_PUBLISHERS = 32


FORWARDED_MIME_TYPES = {"audio/opus", "video/vp8"}


SignalCallback = Callable[[str, dict[str, Any]], Any]


class MediaError(Exception):
    """A refused media request, with a stable ``code`` for the client.

    Codes: ``malformed_sdp``, ``not_allowed_to_publish``, ``muted``, ``too_many_tracks``,
    ``unsupported_codec``, ``negotiation_in_progress``, ``no_offer_pending``,
    ``unknown_participant``, ``unknown_publisher``, ``too_many_subscriptions``, ``invalid_kind``,
    ``invalid_quality``, ``room_closed``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def as_message(self) -> dict[str, str]:
        """The error as a socket message."""
        return {"type": "media.error", "code": self.code, "message": self.message}


@dataclass(frozen=True)
class MediaConfig:
    """Where media flows and how much of it one participant may cause.

    ``ice_host_addresses`` are the local addresses host candidates bind to
    (tests: ``("127.0.0.1",)``; production: the worker's address).  The UDP
    ports come from ``port_min``..``port_max`` (0/0: any).  ``ice_servers``
    are dicts in the browser's ``RTCIceServer`` shape; the default is none,
    because aiortc otherwise contacts a public STUN server.
    """

    ice_host_addresses: tuple[str, ...] = ("127.0.0.1",)
    port_min: int = 0
    port_max: int = 0
    ice_servers: tuple[Mapping[str, Any], ...] = ()
    max_published_tracks: int = 3
    max_subscribed_tracks: int = 48
    video_queue_frames: int = 30
    audio_queue_frames: int = 50
    #: Thresholds of the automatic original/copy choice; None turns it off ("auto"
    #: then means the original), e.g. for a benchmark of the forwarding path alone.
    auto_quality: AutoQualityPolicy | None = AutoQualityPolicy()
    pli_interval: float = 0.5
    speaker_interval: float = 0.3
    renegotiation_delay: float = 0.1
    close_timeout: float = 5.0

    def rtc_configuration(self) -> RTCConfiguration:
        servers = [
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in self.ice_servers
        ]
        # MAX_BUNDLE: every transceiver shares one transport, so tracks added
        # in renegotiation need no new ICE/DTLS handshake.
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    def ice_restriction(self) -> IceRestriction:
        return IceRestriction(tuple(self.ice_host_addresses), self.port_min, self.port_max)


@dataclass
class Publication:
    """One track a participant publishes."""

    publisher_id: str
    track_id: str
    kind: str
    source: str
    mid: str
    forwarder: TrackForwarder
    tap: ReceiverTap | None = None
    #: The shared low-resolution copy, while some subscriber wants it.
    low_copy: LowQualityCopy | None = None
    #: The worker a relayed publication comes from ("" for a local one, published here).
    origin: str = ""
    #: How a relayed publication asks its origin for a keyframe (a PLI over the link).
    keyframe_requester: Callable[[], None] | None = None

    def request_keyframe(self) -> None:
        if self.tap is not None:
            self.tap.request_keyframe()
        elif self.keyframe_requester is not None:
            self.keyframe_requester()

    def low_quality_copy(self) -> LowQualityCopy:
        """The shared low-resolution copy, started on first use."""
        if self.low_copy is None:
            self.low_copy = LowQualityCopy(
                self.forwarder,
                request_source_keyframe=self.request_keyframe,
                profile=SCREEN_PROFILE if self.source == "screen" else CAMERA_PROFILE,
                label=f"{self.track_id}:low",
            )
            self.low_copy.start()
        return self.low_copy

    def release_low_copy_if_idle(self) -> None:
        """Stop the copy once its last subscriber has gone."""
        if self.low_copy is not None and not self.low_copy.forwarder.subscriber_ids:
            self.low_copy.stop()
            self.low_copy = None

    def close(self) -> None:
        """The track ended: its forwarder and its copy stop."""
        self.forwarder.close()
        if self.low_copy is not None:
            self.low_copy.stop()
            self.low_copy = None

    def describe(self) -> dict[str, str]:
        return {
            "publisher": self.publisher_id,
            "track": self.track_id,
            "kind": self.kind,
            "source": self.source,
        }


@dataclass
class Slot:
    slot: SubscriberSlot
    transceiver: RTCRtpTransceiver
    publication: Publication | None = None
    #: Attached to the publication's low-quality copy instead of the original.
    low: bool = False

    def forwarder(self) -> TrackForwarder | None:
        if self.publication is None:
            return None
        if self.low:
            copy = self.publication.low_copy
            return copy.forwarder if copy is not None else None
        return self.publication.forwarder

    def release(self, participant_id: str) -> None:
        """Leave the publication's (or copy's) fan-out; stop an idle copy."""
        forwarder = self.forwarder()
        if forwarder is not None:
            forwarder.remove_subscriber(participant_id)
        if self.low and self.publication is not None:
            self.publication.release_low_copy_if_idle()


@dataclass(frozen=True)
class SendRights:
    """What a participant may send, as the room last said (floor, role, mute).

    ``seq`` is the room event that decided it. An offer whose permission check read
    the database at or after that event (``checked_seq``) is at least as new and
    decides alone; an older check cannot undo a revocation that overtook it.
    """

    publish: bool = True
    audio: bool = True
    seq: int = 0


@dataclass
class Participant:
    id: str
    pc: RTCPeerConnection
    may_publish: bool = False
    #: Set by ``set_send_rights``; None until the room says anything about this person.
    rights: SendRights | None = None
    sources: dict[str, str] = field(default_factory=dict)
    publications: dict[str, Publication] = field(default_factory=dict)
    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    slots: list[Slot] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    needs_negotiation: bool = False
    #: What the client asked for (QUALITY_MODES) and what it gets now (VIDEO_QUALITIES).
    video_mode: str = "auto"
    video_quality: str = "high"
    auto_quality: AutoQuality = field(default_factory=AutoQuality)
    #: The last REMB (bits/s) and what the originals it covers needed then.
    estimate: int | None = None
    needed: int | None = None
    last_remb: tuple[int, tuple[int, ...], float] | None = None
    closed: bool = False
    last_offer: dict[str, Any] | None = None


def expand_kinds(kinds: Iterable[str]) -> set[str]:
    expanded: set[str] = set()
    for kind in kinds:
        if kind == "video":
            expanded |= {"camera", "screen"}
        elif kind in SOURCES:
            expanded.add(kind)
        else:
            raise MediaError("invalid_kind", f"unknown kind {kind!r}; use audio, video, camera or screen")
    return expanded


def parse_sdp(sdp_text: object, *, kind: str) -> aiortc_sdp.SessionDescription:
    """Parse ``sdp_text`` or raise ``MediaError('malformed_sdp')``.

    aiortc's parser accepts much that is not SDP, so the obvious shapes are
    checked first; the parse itself may raise anything on garbage.
    """
    if not isinstance(sdp_text, str) or not sdp_text.strip():
        raise MediaError("malformed_sdp", f"the {kind} is empty")
    if len(sdp_text) > MAX_SDP_BYTES:
        raise MediaError("malformed_sdp", f"the {kind} is larger than {MAX_SDP_BYTES} bytes")
    if not sdp_text.lstrip().startswith("v=0"):
        raise MediaError("malformed_sdp", f"the {kind} does not start with v=0")
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp_text)
    except Exception as exc:  # noqa: BLE001 - any parser failure means bad input
        raise MediaError("malformed_sdp", f"the {kind} could not be parsed ({type(exc).__name__})") from exc
    if not description.media:
        raise MediaError("malformed_sdp", f"the {kind} has no media section")
    for media in description.media:
        if media.kind in ("audio", "video") and (media.ice is None or not media.ice.usernameFragment):
            raise MediaError("malformed_sdp", f"the {kind} has a media section without ICE credentials")
        if media.kind in ("audio", "video") and not media.dtls.fingerprints:  # type: ignore[union-attr]  # set by the parser
            raise MediaError("malformed_sdp", f"the {kind} has a media section without a DTLS fingerprint")
    return description


def sending_sections(description: aiortc_sdp.SessionDescription) -> list[aiortc_sdp.MediaDescription]:
    return [
        media
        for media in description.media
        if media.kind in ("audio", "video") and media.direction in ("sendonly", "sendrecv")
    ]

