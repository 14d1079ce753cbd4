"""Models of this part (none yet)."""
