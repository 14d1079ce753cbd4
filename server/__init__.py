"""The OpenRounds Django project: settings, ASGI routing, and the people of the platform."""
