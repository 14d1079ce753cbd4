"""Audio and video for live sessions: an aiortc SFU that forwards without re-encoding.

Pure asyncio, no Django: the room consumer calls :class:`MediaRoom` methods
and relays what it emits.  ``tap`` is the only module that touches aiortc's
private internals.  See ``docs/media.md``.
"""

from .sfu import ALL_PUBLISHERS, SFU, MediaConfig, MediaError, MediaRoom, Publication

__all__ = ["ALL_PUBLISHERS", "SFU", "MediaConfig", "MediaError", "MediaRoom", "Publication"]
