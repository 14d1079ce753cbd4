"""A server re-offer keeps the numbering the connection already uses.

Why this exists: aiortc's ``createOffer`` numbers every m-line from its own tables,
ignoring what was negotiated before on the same connection: payload types from
``aiortc.codecs.CODECS`` (Opus 96, VP8 97, its RTX 98...) and header extension ids from
``aiortc.codecs.HEADER_EXTENSIONS`` (1 ``sdes:mid``, 2 ``ssrc-audio-level``, 3
``abs-send-time``). Here the browser makes the first offer, numbered its own way
(Chromium 156: Opus 111, VP8 96...; 1 ``ssrc-audio-level``, 2 ``abs-send-time``, 4
``sdes:mid``). So when someone who sends also receives (a consult, a peer room, a
student given the floor), the server's offer of the tracks they receive renumbered what
they already send:

* Chromium refuses an extension id that changes meaning on a live connection (RFC 8285
  section 6; "RTP extension ID reassignment not supported (collision on active MID 0,
  id=1, ssrc-audio-level vs sdes:mid)"), so neither person saw the other;
* a changed payload type is accepted by the browser, which then sends Opus as 96, but
  aiortc's receiver keeps the table it started with and drops every packet: the
  server stops receiving that person a second after the re-offer.

:func:`keep_negotiated_numbering` rewrites the server's offer (text only) so that every
codec and extension keeps the number it has on this connection, and one new to the
connection gets a number nobody uses (with BUNDLE one number may not mean two things
on different m-lines). The browser's answer echoes those numbers, and aiortc takes its
parameters from that answer. ``tests/sessions/media/test_renegotiation.py`` replays
Chromium's numbering and fails when an aiortc upgrade changes what is offered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from aiortc import RTCPeerConnection, RTCSessionDescription

#: ``a=extmap:<id>[/<direction>] <uri>[ <attributes>]`` (RFC 8285 section 8).
_EXTMAP = re.compile(r"^a=extmap:(?P<id>\d+)(?P<direction>/[a-z]+)? (?P<uri>\S+)(?P<rest>.*)$")
_RTPMAP = re.compile(r"^a=rtpmap:(?P<pt>\d+) (?P<name>[^/\s]+)/(?P<clock>\d+)(?:/(?P<channels>\d+))?")
_FMTP = re.compile(r"^a=fmtp:(?P<pt>\d+) (?P<params>.*)$")
_PT_ATTRIBUTE = re.compile(r"^a=(?P<attribute>rtpmap|fmtp|rtcp-fb):(?P<pt>\d+)(?P<rest>.*)$")
_APT = re.compile(r"\bapt=(\d+)")
#: One-byte header extension ids (RFC 8285 section 4.2); aiortc writes only that form.
_ONE_BYTE_IDS = range(1, 15)
#: Dynamic payload types (RFC 3551), then the range RFC 7587/JSEP allow for more.
_FREE_PAYLOAD_TYPES = [*range(96, 128), *range(35, 64)]

#: What makes two payload types the same codec: name, clock rate, channels, and for
#: H.264 the profile and packetisation mode; RTX is "rtx of <codec>".
CodecKey = tuple[str, ...]


def _sections(sdp: str) -> list[list[str]]:
    """The session part, then one list of lines per m-section."""
    sections: list[list[str]] = [[]]
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def _codec_keys(section: list[str]) -> dict[int, CodecKey]:
    """Payload type -> codec key for one m-section (only those with an rtpmap)."""
    names: dict[int, tuple[str, str, str]] = {}
    params: dict[int, str] = {}
    for line in section:
        if match := _RTPMAP.match(line):
            names[int(match["pt"])] = (match["name"].lower(), match["clock"], match["channels"] or "1")
        elif match := _FMTP.match(line):
            params[int(match["pt"])] = match["params"]
    keys: dict[int, CodecKey] = {}

    def key(pt: int) -> CodecKey | None:
        if pt in keys or pt not in names:
            return keys.get(pt)
        name, clock, channels = names[pt]
        fmtp = params.get(pt, "")
        if name == "rtx":
            apt = _APT.search(fmtp)
            base = key(int(apt[1])) if apt and int(apt[1]) != pt else None
            if base is None:
                return None
            keys[pt] = ("rtx", clock, *base)
        elif name == "h264":
            found = dict(part.split("=", 1) for part in fmtp.split(";") if "=" in part)
            # profile_idc and constraint flags name the profile; the level may differ.
            keys[pt] = (name, clock, channels, found.get("profile-level-id", "").lower()[:4],
                        found.get("packetization-mode", "0"))
        else:
            keys[pt] = (name, clock, channels)
        return keys[pt]

    for pt in names:
        key(pt)
    return keys


def _media_sections(sdp_texts: Iterable[str | None]) -> Iterator[list[str]]:
    for text in sdp_texts:
        if text:
            yield from _sections(text.replace("\r\n", "\n").replace("\n", "\r\n"))[1:]


def negotiated_numbering(sdp_texts: Iterable[str | None]) -> tuple[dict[CodecKey, int], dict[str, int]]:
    """(codec key -> payload type, extension URI -> id) used in these descriptions.

    Earlier descriptions win; a number already taken by another codec or extension is
    not given twice.
    """
    payload_types: dict[CodecKey, int] = {}
    extensions: dict[str, int] = {}
    for section in _media_sections(sdp_texts):
        for pt, key in _codec_keys(section).items():
            if key not in payload_types and pt not in payload_types.values():
                payload_types[key] = pt
        for line in section:
            if (match := _EXTMAP.match(line)) and match["uri"] not in extensions and int(match["id"]) not in extensions.values():
                extensions[match["uri"]] = int(match["id"])
    return payload_types, extensions


def renumber(sdp: str, *, payload_types: dict[CodecKey, int], extensions: dict[str, int]) -> str:
    """``sdp`` with every codec and extension under the given numbers.

    A codec or extension the maps do not name keeps its own number if that is still free,
    else takes the lowest free one (the same for every m-section of this description). An extension with no free id left is not offered: it is an
    optimisation, the call works without it.
    """
    payload_types, extensions = dict(payload_types), dict(extensions)
    taken_pts = set(payload_types.values())
    taken_ids = set(extensions.values())
    sections = _sections(sdp)
    out: list[str] = list(sections[0])
    for section in sections[1:]:
        keys = _codec_keys(section)
        mapping: dict[int, int] = {}
        for pt, key in keys.items():
            if key in payload_types:
                mapping[pt] = payload_types[key]
                continue
            new = pt if pt not in taken_pts else next(p for p in _FREE_PAYLOAD_TYPES if p not in taken_pts)
            payload_types[key] = new
            taken_pts.add(new)
            mapping[pt] = new
        for line in section:
            if line.startswith("m=") and mapping:
                head, *formats = line.split(" ")
                fields = head, *formats[:2]
                line = " ".join([*fields, *(str(mapping.get(int(f), f)) if f.isdigit() else f for f in formats[2:])])
            elif match := _PT_ATTRIBUTE.match(line):
                pt = int(match["pt"])
                rest = match["rest"]
                if match["attribute"] == "fmtp":
                    rest = _APT.sub(lambda m: f"apt={mapping.get(int(m[1]), int(m[1]))}", rest)
                line = f"a={match['attribute']}:{mapping.get(pt, pt)}{rest}"
            elif match := _EXTMAP.match(line):
                uri = match["uri"]
                if uri not in extensions:
                    wanted = int(match["id"])
                    free = [wanted] if wanted not in taken_ids else [i for i in _ONE_BYTE_IDS if i not in taken_ids][:1]
                    if not free:
                        continue
                    extensions[uri] = free[0]
                    taken_ids.add(free[0])
                line = f"a=extmap:{extensions[uri]}{match['direction'] or ''} {uri}{match['rest']}"
            out.append(line)
    return "\r\n".join(out)


def keep_negotiated_numbering(pc: RTCPeerConnection, offer: RTCSessionDescription) -> RTCSessionDescription:
    """The server's re-offer on ``pc`` with the payload types and extension ids ``pc`` uses.

    Call between ``createOffer`` and ``setLocalDescription``. The remote description
    comes first: the browser numbered the connection, and what we answered echoed it.
    A first offer (nothing negotiated yet) is returned as it is.
    """
    remote = pc.remoteDescription.sdp if pc.remoteDescription else None
    local = pc.localDescription.sdp if pc.localDescription else None
    payload_types, extensions = negotiated_numbering([remote, local])
    if not payload_types and not extensions:
        return offer
    return RTCSessionDescription(sdp=renumber(offer.sdp, payload_types=payload_types, extensions=extensions), type=offer.type)
