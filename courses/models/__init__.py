"""Models of the shared library and courses, one module per concern."""

from .assessment import *  # noqa: F401,F403
from .curriculum import *  # noqa: F401,F403
from .library import *  # noqa: F401,F403
