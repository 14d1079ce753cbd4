"""The stroke codec: simplification, compact encoding, and refusal of anything malformed."""

from __future__ import annotations

import json
import math

import pytest

from server.people.errors import InvalidRequest
from sessions.annotation import codec

#: The same vectors are checked in the browser (tests/sessions/annotation/test_browser.py).
VECTORS = [
    ([(0, 0)], "AA"),
    ([(5000, 2500), (5010, 2490), (4990, 2600)], "w4Jo8EUTnB8G"),
    ([(10000, 10000)], "gxTgxT"),
]


@pytest.mark.parametrize(("points", "text"), VECTORS)
def test_known_vectors_encode_and_decode(points, text):
    assert codec.encode(points) == text
    assert codec.decode(text) == points


def test_a_curved_stroke_costs_bytes_not_kilobytes():
    # A circle drawn by a mouse: 400 samples about 2 grid units apart.
    raw = [(5000 + round(1200 * math.cos(t / 64)), 5000 + round(1200 * math.sin(t / 64))) for t in range(400)]
    stock = len(json.dumps({"points": [{"x": x / codec.GRID, "y": y / codec.GRID} for x, y in raw]}))
    kept = codec.simplify(raw)
    text = codec.encode(kept)
    assert codec.decode(text) == kept
    assert len(kept) < 60
    assert len(text) < 300 and stock > 20 * len(text)
    # Simplified within the tolerance: every raw point is near the kept polyline.
    for point in raw:
        assert min(codec._distance_sq(point, a, b) for a, b in zip(kept, kept[1:], strict=False)) <= codec.EPSILON ** 2 + 1


def test_simplify_keeps_ends_and_drops_repeats():
    assert codec.simplify([(1, 1), (1, 1), (1, 1)]) == [(1, 1)]
    assert codec.simplify([(0, 0), (50, 1), (100, 0)]) == [(0, 0), (100, 0)]
    assert codec.simplify([(0, 0), (50, 40), (100, 0)]) == [(0, 0), (50, 40), (100, 0)]


def test_a_long_straight_stroke_does_not_recurse():
    line = [(i % 10000, 5000) for i in range(codec.MAX_POINTS_IN)]
    assert codec.clean(codec.encode(line))[1] == 2


@pytest.mark.parametrize(("text", "why"), [
    ("", "at least one point"),
    ("AA*", "not encoded"),
    ("AAA", "not encoded"),           # an x without its y
    ("AAg", "not encoded"),           # a number cut short
    ("gggggA", "not encoded"),        # too many continuation characters
    ("B" + "A", "off the page"),      # x = -1
    ("A" * (codec.MAX_ENCODED_CHARS + 2), "too long"),
])
def test_malformed_strokes_are_refused_with_a_clear_error(text, why):
    with pytest.raises(InvalidRequest, match=why) as refused:
        codec.clean(text)
    assert refused.value.code == "bad_stroke"


def test_a_stroke_too_detailed_even_simplified_is_refused():
    zigzag = [(i * 4, 5000 + (300 if i % 2 else 0)) for i in range(codec.MAX_POINTS_KEPT + 10)]
    with pytest.raises(InvalidRequest, match="too long"):
        codec.clean(codec.encode(zigzag))
