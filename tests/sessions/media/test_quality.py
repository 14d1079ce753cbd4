"""The server's automatic choice between the original video and the shared low copy.

`AutoQuality` is fed (time, estimate, need) as the SFU feeds it from each REMB; these
tests walk it through slow links, brief dips, recoveries and probes.
"""

from __future__ import annotations

from sessions.media.quality import AutoQuality, AutoQualityPolicy

NEED = 1_000_000  # what the original needs, bits/s
POLICY = AutoQualityPolicy(down_hold=3.0, down_ratio=0.9, up_hold=5.0, up_margin=1.25, probe_after=20.0, probe_max=80.0,
                           probe_hold=10.0, probe_drop=0.85)


def feed(choice: AutoQuality, estimates: list[tuple[float, int]], need: int = NEED) -> list[bool]:
    """Each (time, estimate) in turn; the choice (True: low) after each."""
    return [choice.observe(now=now, estimate=estimate, need=need) for now, estimate in estimates]


def every_second(start: float, end: float, estimate: int) -> list[tuple[float, int]]:
    return [(float(t), estimate) for t in range(int(start), int(end) + 1)]


def test_a_link_that_carries_the_original_keeps_it() -> None:
    choice = AutoQuality(POLICY)
    assert not any(feed(choice, every_second(0, 30, 1_200_000)))


def test_an_estimate_below_the_need_for_a_few_seconds_switches_to_the_copy() -> None:
    choice = AutoQuality(POLICY)
    assert feed(choice, every_second(0, 3, 300_000)) == [False, False, False, True]
    assert choice.reason == "estimate"


def test_an_estimate_just_under_the_need_is_measurement_noise_not_a_slow_link() -> None:
    choice = AutoQuality(POLICY)
    assert not any(feed(choice, every_second(0, 30, 950_000)))


def test_a_brief_dip_does_not_switch() -> None:
    choice = AutoQuality(POLICY)
    dip = every_second(0, 2, 300_000) + every_second(3, 3, 1_100_000) + every_second(4, 6, 300_000)
    assert not any(feed(choice, dip)), "two seconds low, then fine: still the original"


def test_back_to_the_original_only_well_above_the_need_and_for_longer() -> None:
    choice = AutoQuality(POLICY)
    feed(choice, every_second(0, 3, 300_000))
    assert choice.low
    # Just above the need is not enough (hysteresis: 1.25 x).
    assert all(feed(choice, every_second(4, 12, 1_100_000)))
    # Well above, but interrupted: the timer starts again.
    assert all(feed(choice, every_second(13, 16, 1_400_000) + every_second(17, 17, 900_000)))
    assert feed(choice, every_second(18, 23, 1_400_000)) == [True] * 5 + [False]
    assert choice.reason == "estimate"


def test_without_a_measured_need_nothing_is_decided() -> None:
    choice = AutoQuality(POLICY)
    assert not any(feed(choice, every_second(0, 10, 100_000), need=0))


def test_a_probe_tries_the_original_again_and_keeps_it_when_the_estimate_catches_up() -> None:
    choice = AutoQuality(POLICY)
    feed(choice, every_second(0, 3, 300_000))  # low from t=3
    assert all(feed(choice, every_second(4, 22, 300_000)))
    assert feed(choice, [(23.0, 300_000)]) == [False], "20 s on the copy: the original is tried"
    assert choice.probing and choice.reason == "probe"
    # The receiver's estimate climbs as it receives more (about 8% a second in Chromium)...
    ramp = [(24.0 + i, int(300_000 * 1.5**i)) for i in range(4)]
    assert not any(feed(choice, ramp))
    assert not choice.probing, "reached the need: the probe succeeded"
    assert not any(feed(choice, every_second(28, 60, 1_100_000)))


def test_a_failed_probe_returns_to_the_copy_and_waits_longer_next_time() -> None:
    choice = AutoQuality(POLICY)
    feed(choice, every_second(0, 3, 300_000))
    feed(choice, every_second(4, 23, 300_000))  # the first probe starts at t=23
    assert choice.probing
    assert feed(choice, [(24.0, 320_000), (25.0, 250_000)]) == [False, True], "the estimate fell: congestion"
    assert choice.reason == "probe_failed"
    # The next probe waits twice as long (40 s from t=25), then 80 s, and no longer.
    assert all(feed(choice, every_second(26, 64, 250_000)))
    assert feed(choice, [(65.0, 250_000)]) == [False]
    assert feed(choice, every_second(66, 75, 250_000))[-1] is True, "no gain within the probe time"
    assert all(feed(choice, every_second(76, 154, 250_000)))
    assert feed(choice, [(155.0, 250_000)]) == [False]
    feed(choice, [(156.0, 100_000)])
    assert all(feed(choice, every_second(157, 235, 100_000)))
    assert feed(choice, [(236.0, 100_000)]) == [False], "the wait stops growing at probe_max"
