"""Models of live sessions, one module per concern; Django finds them all here."""

from .breakout import *  # noqa: F401,F403
from .consult import *  # noqa: F401,F403
from .peer import *  # noqa: F401,F403
from .record import *  # noqa: F401,F403
from .recording import *  # noqa: F401,F403
from .room import *  # noqa: F401,F403
from .scheduling import *  # noqa: F401,F403
from .slides import *  # noqa: F401,F403
