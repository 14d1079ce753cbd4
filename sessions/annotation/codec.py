"""A stroke's points: simplified (Ramer–Douglas–Peucker) and packed into a short string.

Why: a stroke is a room event that every socket of the room receives and that the
database keeps, so its size is paid a thousand times in a lecture. Points are page
coordinates on a 0..GRID grid (x across the page's width, y down its height, so a stroke
fits any image size the viewer loads), simplified with a tolerance of about one pixel
of a large page image, then delta-encoded: each number is the difference from the
previous coordinate, zig-zag folded to a non-negative integer and written 5 bits per
character in a URL-safe base-64 alphabet (the 6th bit says "more follows"). A typical
pen stroke costs 60-150 bytes instead of kilobytes of JSON points. The same codec is
frontend/static/js/annotation/codec.js; tests hold both to the same strings.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest

#: Coordinates run 0..GRID across and down the page.
GRID = 10_000
#: Tolerance of the simplification in grid units (≈ 1 px of a 1280 px wide page image).
EPSILON = 8.0
#: Points a client may send for one stroke, and points a stroke may keep once simplified.
MAX_POINTS_IN = 2_000
MAX_POINTS_KEPT = 600
#: Characters of an encoded stroke a client may send (2,000 points at ≤ 3 characters each).
MAX_ENCODED_CHARS = 12_000

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}

Point = tuple[int, int]


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message, "bad_stroke")


def encode(points: list[Point]) -> str:
    """Pack points (integers on the grid) into the stroke string."""
    out: list[str] = []
    last_x = last_y = 0
    for x, y in points:
        for delta in (x - last_x, y - last_y):
            value = (delta << 1) if delta >= 0 else ((-delta << 1) - 1)  # zig-zag
            while value >= 0x20:
                out.append(ALPHABET[0x20 | (value & 0x1F)])
                value >>= 5
            out.append(ALPHABET[value])
        last_x, last_y = x, y
    return "".join(out)


def decode(text: str) -> list[Point]:
    """Unpack a stroke string; refuses (`bad_stroke`) anything malformed or off the page."""
    if not text:
        raise _bad(_("A stroke needs at least one point."))
    if len(text) > MAX_ENCODED_CHARS:
        raise _bad(_("The stroke is too long; lift the pen and go on with a new one."))
    numbers: list[int] = []
    value = shift = 0
    for char in text:
        bits = _VALUE.get(char)
        if bits is None:
            raise _bad(_("The stroke is not encoded as the room expects."))
        value |= (bits & 0x1F) << shift
        if bits & 0x20:
            shift += 5
            if shift > 20:
                raise _bad(_("The stroke is not encoded as the room expects."))
            continue
        numbers.append((value >> 1) if not value & 1 else -((value + 1) >> 1))
        value = shift = 0
    if shift or len(numbers) % 2:
        raise _bad(_("The stroke is not encoded as the room expects."))
    points: list[Point] = []
    x = y = 0
    for index in range(0, len(numbers), 2):
        x += numbers[index]
        y += numbers[index + 1]
        if not (0 <= x <= GRID and 0 <= y <= GRID):
            raise _bad(_("The stroke goes off the page."))
        points.append((x, y))
    if len(points) > MAX_POINTS_IN:
        raise _bad(_("The stroke is too long; lift the pen and go on with a new one."))
    return points


def _distance_sq(point: Point, start: Point, end: Point) -> float:
    """Squared distance from `point` to the segment start-end."""
    (px, py), (ax, ay), (bx, by) = point, start, end
    dx, dy = bx - ax, by - ay
    length_sq = dx * dx + dy * dy
    if length_sq == 0:
        return float((px - ax) ** 2 + (py - ay) ** 2)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length_sq))
    cx, cy = ax + t * dx, ay + t * dy
    return (px - cx) ** 2 + (py - cy) ** 2


def simplify(points: list[Point], epsilon: float = EPSILON) -> list[Point]:
    """Ramer–Douglas–Peucker, iterative (a long stroke must not reach Python's recursion limit).

    Repeated points are dropped first; the first and last points are always kept.
    """
    unique = [p for index, p in enumerate(points) if index == 0 or p != points[index - 1]]
    if len(unique) < 3:
        return unique
    keep = [False] * len(unique)
    keep[0] = keep[-1] = True
    limit = epsilon * epsilon
    stack = [(0, len(unique) - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_at = -1.0, -1
        for index in range(first + 1, last):
            distance = _distance_sq(unique[index], unique[first], unique[last])
            if distance > worst:
                worst, worst_at = distance, index
        if worst > limit:
            keep[worst_at] = True
            stack.append((first, worst_at))
            stack.append((worst_at, last))
    return [p for p, kept in zip(unique, keep, strict=True) if kept]


def clean(text: str) -> tuple[str, int]:
    """A client's stroke string, checked, simplified and re-encoded: (string, points kept).

    Refused with `bad_stroke` when malformed, off the page or too long even simplified.
    """
    points = simplify(decode(text))
    if len(points) > MAX_POINTS_KEPT:
        raise _bad(_("The stroke is too long; lift the pen and go on with a new one."))
    return encode(points), len(points)
