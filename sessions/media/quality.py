"""Which video a subscriber gets when it leaves the choice to the server ("auto").

The SFU forwards the publisher's original or the shared low-resolution copy
(``lowres.py``); it never encodes per subscriber, so the only lever it has on one
subscriber's bitrate is that choice.  The subscriber's receiver tells us what its
link carries: REMB, a receiver-side estimate a browser (and aiortc) sends about
once a second for the streams it receives.  :class:`AutoQuality` turns those
estimates into the choice, one instance per subscriber:

* **down**: the estimate stays under what the originals need (their measured
  bitrate, ``forwarding.RateMeter``; with ``down_ratio`` of slack, since a
  browser's first estimate is about what it measured arriving) for
  ``down_hold`` seconds: the copy;
* **up**: on the copy, the estimate stays at least ``up_margin`` times that need
  for ``up_hold`` seconds: the original again.  The margin and the longer hold
  are the hysteresis, so a link near the threshold does not flap;
* **probe**: a receiver-side estimate grows only slowly above what it actually
  receives (Chromium raises it by about 8% a second), so on the copy it rarely
  shows that the original would fit.  After ``probe_after`` seconds on the copy
  the original is tried again for up to ``probe_hold`` seconds; it is kept if
  the estimate reaches the need, and given up at once if the estimate falls
  (the receiver saw congestion) or the time runs out.  Each failed probe doubles
  the wait, up to ``probe_max``.

Pure: no aiortc, no clock of its own (``now`` comes in), so the tests feed it
numbers.  A client's explicit choice (``media.quality`` high/low/off) wins over
this one; the room applies it only in ``auto`` mode.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AutoQualityPolicy:
    """The thresholds, in seconds and ratios."""

    down_hold: float = 3.0
    down_ratio: float = 0.9
    up_hold: float = 5.0
    up_margin: float = 1.25
    probe_after: float = 20.0
    probe_max: float = 160.0
    probe_hold: float = 10.0
    #: A probe ends when the estimate falls under this share of its highest value in the probe.
    probe_drop: float = 0.85


@dataclass
class AutoQuality:
    """One subscriber's automatic choice: ``low`` (the shared copy) or not (the original).

    Feed every estimate with :meth:`observe`; it returns the choice after it.
    ``reason`` says why the last change happened (``estimate`` for the down and
    up rules, ``probe`` when a probe started, ``probe_failed`` when one ended).
    """

    policy: AutoQualityPolicy = AutoQualityPolicy()
    low: bool = False
    probing: bool = False
    reason: str = ""
    _below_since: float | None = None
    _above_since: float | None = None
    _low_since: float = 0.0
    _probe_started: float = 0.0
    _probe_peak: int = 0
    _backoff: float = 0.0

    def observe(self, *, now: float, estimate: int, need: int) -> bool:
        """Take one estimate (bits/s) against what the originals need (bits/s)."""
        if need <= 0:  # nothing measured yet (no frames): no basis for a choice
            self._below_since = self._above_since = None
            return self.low
        if self.probing:
            self._observe_probe(now, estimate, need)
        elif self.low:
            self._observe_low(now, estimate, need)
        else:
            self._observe_high(now, estimate, need)
        return self.low

    def _observe_high(self, now: float, estimate: int, need: int) -> None:
        if estimate >= need * self.policy.down_ratio:
            self._below_since = None
            return
        if self._below_since is None:
            self._below_since = now
        elif now - self._below_since >= self.policy.down_hold:
            self._switch(now, low=True, reason="estimate")

    def _observe_low(self, now: float, estimate: int, need: int) -> None:
        if estimate >= need * self.policy.up_margin:
            if self._above_since is None:
                self._above_since = now
            elif now - self._above_since >= self.policy.up_hold:
                self._switch(now, low=False, reason="estimate")
                self._backoff = 0.0
            return
        self._above_since = None
        wait = self._backoff or self.policy.probe_after
        if now - self._low_since >= wait:
            self.low, self.probing, self.reason = False, True, "probe"
            self._probe_started, self._probe_peak = now, estimate
            self._backoff = wait

    def _observe_probe(self, now: float, estimate: int, need: int) -> None:
        self._probe_peak = max(self._probe_peak, estimate)
        if estimate >= need:
            self.probing, self.reason, self._backoff = False, "estimate", 0.0
            self._below_since = None
        elif estimate < self._probe_peak * self.policy.probe_drop or now - self._probe_started >= self.policy.probe_hold:
            self._switch(now, low=True, reason="probe_failed")
            self._backoff = min(self._backoff * 2, self.policy.probe_max)

    def _switch(self, now: float, *, low: bool, reason: str) -> None:
        self.low, self.probing, self.reason = low, False, reason
        self._below_since = self._above_since = None
        if low:
            self._low_since = now
