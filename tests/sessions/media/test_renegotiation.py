"""A server re-offer keeps the payload types and header extension ids of the connection.

Chromium makes the first offer with its own numbering (the recorded offer of Chromium 156
in `chromium156_offer.sdp`); the server's later offers, which add the tracks a person
receives, must keep it: else Chromium refuses the offer (extension ids) or the server
stops receiving the person (payload types). See sessions/media/renegotiation.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from sessions.media import MediaRoom
from sessions.media.renegotiation import keep_negotiated_numbering, negotiated_numbering, renumber
from sessions.media.tap import restrict_ice
from tests.sessions.media.test_sfu import LOOPBACK, Client, MovingVideoTrack, room, wait_until  # noqa: F401

CHROMIUM_OFFER = (Path(__file__).parent / "chromium156_offer.sdp").read_text().replace("\n", "\r\n").replace("\r\r\n", "\r\n")
CHROMIUM_PAYLOAD_TYPES, CHROMIUM_EXTENSIONS = negotiated_numbering([CHROMIUM_OFFER])


def sections(sdp: str) -> list[str]:
    return sdp.split("\r\nm=")[1:]


def extmaps(section: str) -> dict[str, int]:
    return {uri: int(i) for i, uri in re.findall(r"a=extmap:(\d+) (\S+)", section)}


def rtpmaps(section: str) -> dict[int, str]:
    return {int(pt): name.lower() for pt, name in re.findall(r"a=rtpmap:(\d+) ([^/\s]+)", section)}


async def server_answering(offer_sdp: str) -> RTCPeerConnection:
    """A server connection that answered `offer_sdp`, as MediaRoom.handle_offer does."""
    pc = RTCPeerConnection()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc


async def test_what_aiortc_negotiates_with_chromium_156_is_what_was_proven() -> None:
    """Fails when an aiortc upgrade changes the negotiated extensions or codecs: re-prove it.

    If this changes, run tests/sessions/media/test_browser_two_way.py and the
    renegotiation tests below before updating the expected values.
    """
    pc = await server_answering(CHROMIUM_OFFER)
    try:
        audio, video, _ = sections(pc.localDescription.sdp)
        assert extmaps(audio) == {"urn:ietf:params:rtp-hdrext:ssrc-audio-level": 1, "urn:ietf:params:rtp-hdrext:sdes:mid": 4}
        assert extmaps(video) == {"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time": 2,
                                  "urn:ietf:params:rtp-hdrext:sdes:mid": 4}
        assert rtpmaps(audio)[111] == "opus"
        assert rtpmaps(video)[96] == "vp8" and rtpmaps(video)[97] == "rtx"
        # aiortc's own numbering differs from Chromium's: without keep_negotiated_numbering
        # a re-offer renumbers what the browser already sends.
        pc.addTransceiver("audio", direction="sendonly")
        raw = sections((await pc.createOffer()).sdp)
        assert extmaps(raw[0]) != extmaps(audio) or rtpmaps(raw[0]) != rtpmaps(audio)
    finally:
        await pc.close()


async def test_a_server_reoffer_keeps_chromiums_payload_types_and_extension_ids() -> None:
    pc = await server_answering(CHROMIUM_OFFER)
    try:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(MovingVideoTrack(), direction="sendonly")
        offer = keep_negotiated_numbering(pc, await pc.createOffer())
        uris_by_id: dict[int, str] = {}
        codecs_by_pt: dict[int, str] = {}
        for section in sections(offer.sdp):
            for uri, ext_id in extmaps(section).items():
                assert CHROMIUM_EXTENSIONS.get(uri, ext_id) == ext_id, (uri, ext_id)
                assert uris_by_id.setdefault(ext_id, uri) == uri, f"id {ext_id} means two extensions"
            for pt, name in rtpmaps(section).items():
                assert codecs_by_pt.setdefault(pt, name) == name, f"payload type {pt} means two codecs"
        new_audio, new_video = sections(offer.sdp)[3:5]
        assert rtpmaps(new_audio)[111] == "opus"
        assert rtpmaps(new_video)[96] == "vp8"
        assert re.search(r"a=fmtp:97 apt=96", new_video)
        # aiortc accepts its own rewritten offer, and the browser's answer echoes it.
        await pc.setLocalDescription(offer)
    finally:
        await pc.close()


def test_renumbering_gives_a_new_codec_a_free_payload_type_and_drops_an_extension_with_no_id_left() -> None:
    sdp = "\r\n".join([
        "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 96 0", "a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:2 urn:x-new", ""])
    taken = {("vp8", "90000", "1"): 96}
    full = {f"urn:used:{i}": i for i in range(1, 15)}
    out = renumber(sdp, payload_types=taken, extensions=full)
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 97 0" in out and "a=rtpmap:97 opus/48000/2" in out
    assert "urn:x-new" not in out and "sdes:mid" not in out
    assert taken == {("vp8", "90000", "1"): 96}, "the caller's maps are not changed"


class ChromiumNumberedClient(Client):
    """An aiortc client whose first offer is numbered the way Chromium 156 numbers it."""

    async def join(self, *, publish: bool = False, tone: bool = False) -> None:
        if publish:
            self.pc.addTrack(AudioStreamTrack())
            self.pc.addTrack(MovingVideoTrack())
        self.pc.createDataChannel("control")
        restrict_ice(self.pc, LOOPBACK)
        offer = await self.pc.createOffer()
        numbered = renumber(offer.sdp, payload_types=CHROMIUM_PAYLOAD_TYPES, extensions=CHROMIUM_EXTENSIONS)
        await self.pc.setLocalDescription(RTCSessionDescription(sdp=numbered, type="offer"))
        answer = await self.room.handle_offer(self.id, self.pc.localDescription.sdp, may_publish=publish)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


async def test_two_people_who_both_send_each_receive_the_other(room: MediaRoom) -> None:
    amina = ChromiumNumberedClient(room, "amina")
    lukas = ChromiumNumberedClient(room, "lukas")
    room.clients.update(amina=amina, lukas=lukas)  # type: ignore[attr-defined]
    await amina.join(publish=True)
    await lukas.join(publish=True)
    await room.subscribe("amina", "*", ["audio", "video"])
    await room.subscribe("lukas", "*", ["audio", "video"])
    await wait_until(lambda: all(c.decoded["video"] >= 20 and c.decoded["audio"] >= 50 for c in (amina, lukas)), 15)
    # Both kept publishing after their connection was renegotiated.
    assert {pub.track_id for pub in room.publications()} == {"amina:0", "amina:1", "lukas:0", "lukas:1"}
