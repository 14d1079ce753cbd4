"""The consult audit log: append an entry, verify the hash chain.

Every read and write of consult data goes through `audit_append`. Each entry's hash is
the SHA-256 of its own content plus the previous entry's hash, so changing any stored
entry (even with raw SQL that bypasses the app and its triggers) breaks the chain at
that entry, and removing one breaks it at the next. `audit_verify` recomputes it.

Entries never contain patient data: actions, object ids and field names only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from server.people.models import User
from sessions.models import AuditChainHead, AuditEntry, ConsultRequest

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditSource:
    """Where an action came from (an HTTP request or a WebSocket scope)."""

    ip: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> AuditSource:
        if request is None:
            return cls()
        return cls(
            ip=(request.META.get("REMOTE_ADDR") or "")[:45],
            user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:200],
        )

    @classmethod
    def from_scope(cls, scope: dict[str, Any] | None) -> AuditSource:
        if not scope:
            return cls()
        client = scope.get("client") or ("", 0)
        agent = ""
        for name, value in scope.get("headers") or []:
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        return cls(ip=str(client[0] or "")[:45], user_agent=agent[:200])


SYSTEM = AuditSource(ip="", user_agent="system")


def entry_digest(*, seq: int, at: str, actor_id: int | None, actor_username: str, action: str,
                 consult_id: int | None, object_type: str, object_id: str, detail: Any,
                 ip: str, user_agent: str, prev_hash: str) -> str:
    """The hash of one entry: a canonical JSON of every stored column plus the chain link."""
    payload = json.dumps(
        [seq, at, actor_id, actor_username, action, consult_id, object_type, object_id,
         detail, ip, user_agent, prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _canonical_time(value: Any) -> str:
    # Stored with microseconds in UTC on both SQLite and PostgreSQL.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def audit_append(
    *, actor: User | None, action: str, consult: ConsultRequest | None = None,
    obj: Any = None, detail: dict[str, Any] | None = None, source: AuditSource | None = None,
) -> AuditEntry:
    """Append one entry at the end of the chain.

    Runs in its own atomic block that first updates the chain head, which serialises
    concurrent appends (row lock on PostgreSQL, write lock on SQLite). When called
    inside a service's transaction, the entry commits or rolls back with the change.
    """
    source = source or AuditSource()
    detail = json.loads(json.dumps(detail or {}, default=str))
    object_type = type(obj).__name__ if obj is not None else ""
    object_id = str(getattr(obj, "pk", "") or "") if obj is not None else ""
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    actor_username = actor.get_username() if actor is not None and actor_id is not None else "anonymous"
    with transaction.atomic():
        updated = AuditChainHead.objects.filter(pk=1).update(count=F("count") + 1)
        if not updated:
            AuditChainHead.objects.get_or_create(pk=1)
            AuditChainHead.objects.filter(pk=1).update(count=F("count") + 1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
        last = AuditEntry.objects.order_by("-pk").values("hash").first()
        prev_hash = last["hash"] if last else GENESIS_HASH
        at = timezone.now()
        entry = AuditEntry(
            at=at, actor_id=actor_id, actor_username=actor_username, action=action,
            consult=consult, object_type=object_type, object_id=object_id, detail=detail,
            ip=source.ip, user_agent=source.user_agent, prev_hash=prev_hash,
        )
        # The hash covers the entry's position in the chain (the head's count), so an
        # entry removed from the middle shifts every later position and is detected.
        entry.hash = entry_digest(
            seq=head.count, at=_canonical_time(at), actor_id=actor_id, actor_username=actor_username,
            action=action, consult_id=consult.pk if consult else None, object_type=object_type,
            object_id=object_id, detail=detail, ip=source.ip, user_agent=source.user_agent, prev_hash=prev_hash,
        )
        entry.save()
        AuditChainHead.objects.filter(pk=1).update(last_hash=entry.hash)
    logger.info("audit %s by user %s on consult %s", action, actor_id, consult.pk if consult else None)
    return entry


@dataclass(frozen=True)
class ChainCheck:
    """The result of a verification: `ok`, how many entries, and where it broke."""

    ok: bool
    entries: int
    broken_at: int | None = None
    problem: str = ""


def audit_verify() -> ChainCheck:
    """Recompute every hash in order; report the first entry whose hash or link is wrong.

    Streams the table (constant memory) and also checks the head row, so that removing
    the newest entries is detected too.
    """
    prev_hash = GENESIS_HASH
    count = 0
    rows = AuditEntry.objects.order_by("pk").values_list(
        "pk", "at", "actor_id", "actor_username", "action", "consult_id", "object_type",
        "object_id", "detail", "ip", "user_agent", "prev_hash", "hash",
    )
    for (pk, at, actor_id, actor_username, action, consult_id, object_type, object_id,
         detail, ip, user_agent, stored_prev, stored_hash) in rows.iterator(chunk_size=2000):
        count += 1
        if stored_prev != prev_hash:
            return ChainCheck(False, count, pk, "link")
        expected = entry_digest(
            seq=count, at=_canonical_time(at), actor_id=actor_id, actor_username=actor_username,
            action=action, consult_id=consult_id, object_type=object_type, object_id=object_id,
            detail=detail, ip=ip, user_agent=user_agent, prev_hash=stored_prev,
        )
        if expected != stored_hash:
            return ChainCheck(False, count, pk, "content")
        prev_hash = stored_hash
    head = AuditChainHead.objects.filter(pk=1).values("count", "last_hash").first()
    if head is not None and (head["count"] != count or head["last_hash"] != prev_hash):
        return ChainCheck(False, count, None, "head")
    if head is None and count:
        return ChainCheck(False, count, None, "head")
    return ChainCheck(True, count)
