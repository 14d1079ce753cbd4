"""Peer sessions (virtual exchange): matching students of different countries, shared notes."""
