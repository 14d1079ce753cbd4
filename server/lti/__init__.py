"""LTI 1.3 tool: a Moodle or Canvas course embeds an OpenRounds session or library material."""
