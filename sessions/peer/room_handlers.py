"""Room messages of this part (registered on import by sessions.apps)."""
