"""What a page costs a student on paid mobile data, measured in Chromium through the DevTools protocol.

Used by bench/page_weight.py (the figures in docs/benchmarks.md) and by the slow-network
test. Bytes are what crossed the network for each response (headers and compressed
body: Chromium's `encodedDataLength`), on a cold cache.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

# Chromium resource types that make up the page itself; media (images, video, fonts,
# WebSocket/WebRTC traffic) is excluded from the budget.
COUNTED = {"Document": "html", "Stylesheet": "css", "Script": "js"}

# The slow network of the issue: 400 kbit/s down, 150 ms round trip (uplink alike).
SLOW_NETWORK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}


@dataclass
class PageWeight:
    """Bytes transferred per kind for one page load."""

    path: str
    status: int
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    uncounted: int = 0
    requests: int = 0
    # CSS and JS served without Content-Encoding (whitenoise should gzip/brotli them in production).
    uncompressed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def measure_page_weight(page, path: str) -> PageWeight:
    """Load `path` in `page` (a fresh context: cold cache) and add up the bytes it transferred."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    kinds: dict[str, str] = {}
    sizes: dict[str, int] = {}

    cdp.on("Network.requestWillBeSent", lambda event: kinds.__setitem__(event["requestId"], event.get("type", "Other")))
    encodings: dict[str, tuple[str, str]] = {}

    def on_response(event: dict) -> None:
        kinds[event["requestId"]] = event.get("type", "Other")
        headers = {name.lower(): value for name, value in event["response"].get("headers", {}).items()}
        encodings[event["requestId"]] = (event["response"]["url"], headers.get("content-encoding", ""))

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", lambda event: sizes.__setitem__(event["requestId"], int(event["encodedDataLength"])))
    response = page.goto(path, wait_until="load")
    page.wait_for_load_state("networkidle")
    weight = PageWeight(path=path, status=response.status if response else 0)
    for request_id, size in sizes.items():
        kind = COUNTED.get(kinds.get(request_id, "Other"))
        weight.requests += 1
        url, encoding = encodings.get(request_id, ("", ""))
        if kind in {"css", "js"} and not encoding and size > 1500 and "/static/" in url:
            weight.uncompressed.append(url)
        if kind is None:
            weight.uncounted += size
        else:
            weight.by_kind[kind] += size
    cdp.detach()
    return weight


def emulate_slow_network(page) -> None:
    """Throttle this page to the issue's slow network, for every request and the WebSocket."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_NETWORK)


def seconds_until_usable(page, path: str, probe: Callable[[object], None]) -> float:
    """Seconds from navigation start until `probe` (which uses the page as a person would) succeeds."""
    started = time.perf_counter()
    page.goto(path, wait_until="commit")
    probe(page)
    return time.perf_counter() - started
