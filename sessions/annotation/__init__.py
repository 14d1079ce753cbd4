"""Annotation on what is shown: pointer, pen, highlighter, eraser and clear on slide pages (issue 14)."""
