"""Breakout groups of a live session's room (docs/breakouts.md)."""
