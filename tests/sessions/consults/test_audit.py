"""The audit log: every consult action is in it, it cannot be changed, and tampering shows."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from sessions.consults import services
from sessions.consults.audit import audit_verify
from sessions.models import AuditEntry, AuditEntryImmutable

pytestmark = pytest.mark.django_db


def _drop_append_only_trigger() -> None:
    """What an attacker with the database owner's rights would do first."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Ordinary triggers do not fire for a superuser session in replica mode.
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS live_auditentry_append_only")


def test_the_journey_leaves_a_verifiable_trail(people, consented):
    services.note_update(by=people.chikondi, consult=consented, changes={"assessment": "A", "plan": "P"})
    services.note_sign(by=people.mensah, consult=consented)
    actions = list(AuditEntry.objects.filter(consult=consented).values_list("action", flat=True))
    assert actions == ["consult.request", "consult.accept", "observer.invite", "consent.record", "note.update", "note.sign"]
    entry = AuditEntry.objects.filter(action="note.sign").get()
    assert entry.actor == people.mensah and entry.at is not None
    check = audit_verify()
    assert check.ok and check.entries == len(actions)


def test_audit_entries_cannot_be_changed_or_deleted_through_the_app(people, consult):
    entry = AuditEntry.objects.first()
    entry.action = "nothing.happened"
    with pytest.raises(AuditEntryImmutable):
        entry.save()
    with pytest.raises(AuditEntryImmutable):
        entry.delete()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(action="nothing.happened")
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.all().delete()
    assert audit_verify().ok


def test_the_database_refuses_a_raw_update(people, consult):
    entry = AuditEntry.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE live_auditentry SET action = %s WHERE id = %s", ["nothing.happened", entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "consult.request"


def test_the_chain_detects_an_entry_changed_in_the_database(people, consult):
    assert audit_verify().ok
    target = AuditEntry.objects.filter(action="consult.accept").get()
    _drop_append_only_trigger()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE live_auditentry SET actor_username = %s WHERE id = %s", ["someone-else", target.pk])
    check = audit_verify()
    assert not check.ok
    assert check.broken_at == target.pk and check.problem == "content"


def test_the_chain_detects_a_rehashed_entry(people, consult):
    """Changing an entry and recomputing its own hash still breaks the link to the next one."""
    from sessions.consults.audit import _canonical_time, entry_digest

    target = AuditEntry.objects.filter(action="consult.accept").get()
    position = list(AuditEntry.objects.values_list("pk", flat=True)).index(target.pk) + 1
    forged = entry_digest(seq=position, at=_canonical_time(target.at), actor_id=target.actor_id,
                          actor_username="someone-else", action=target.action, consult_id=target.consult_id,
                          object_type=target.object_type, object_id=target.object_id, detail=target.detail,
                          ip=target.ip, user_agent=target.user_agent, prev_hash=target.prev_hash)
    _drop_append_only_trigger()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE live_auditentry SET actor_username = %s, hash = %s WHERE id = %s",
                       ["someone-else", forged, target.pk])
    check = audit_verify()
    assert not check.ok and check.problem == "link"


def test_the_chain_detects_a_deleted_entry(people, consult):
    target = AuditEntry.objects.filter(action="consult.accept").get()
    _drop_append_only_trigger()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM live_auditentry WHERE id = %s", [target.pk])
    assert not audit_verify().ok


def test_the_chain_detects_the_newest_entry_removed(people, consult):
    newest = AuditEntry.objects.order_by("-pk").first()
    _drop_append_only_trigger()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM live_auditentry WHERE id = %s", [newest.pk])
    check = audit_verify()
    assert not check.ok and check.problem == "head"
