"""Where the media part plugs in when a patient withdraws recording consent.

The consult part decides that a recording must stop and be deleted; the media part
knows how (it owns the recorder and its files, possibly in another process). It
registers one function here at import time:

    from sessions.consults.media_hooks import register_recording_withdrawal

    @register_recording_withdrawal
    def stop_and_delete(*, session_id: int) -> dict:
        ...  # stop a running recording of the session, delete its stored files
        return {"stopped": True, "deleted_files": 2}

The returned dict (numbers and booleans only) goes into the audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

RecordingWithdrawal = Callable[..., dict[str, Any] | None]
_hooks: list[RecordingWithdrawal] = []


def register_recording_withdrawal(hook: RecordingWithdrawal) -> RecordingWithdrawal:
    """Add `hook(session_id=...)`; returns it so it can be used as a decorator."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def unregister_recording_withdrawal(hook: RecordingWithdrawal) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def recording_withdrawal_run(*, session_id: int) -> list[dict[str, Any]]:
    """Call every hook; a failing hook is reported (and audited by the caller), not hidden."""
    results: list[dict[str, Any]] = []
    for hook in list(_hooks):
        name = f"{hook.__module__}.{getattr(hook, '__qualname__', 'hook')}"
        try:
            outcome = hook(session_id=session_id) or {}
            results.append({"hook": name, "ok": True, **{k: v for k, v in outcome.items() if isinstance(v, (bool, int, float))}})
        except Exception:
            logger.exception("session %s: recording withdrawal hook %s failed", session_id, name)
            results.append({"hook": name, "ok": False})
    return results
