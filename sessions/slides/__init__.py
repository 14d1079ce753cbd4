"""Slides in the room: a PDF shown page by page as light images, before (or instead of) video."""
