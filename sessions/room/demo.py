"""Demo data of the live room for `seed_demo`: what the past demo sessions left behind.

The two past sessions of `sessions.scheduling.demo` get a room record (chat, questions,
a closed poll with its results, attendance), so their room page and the attendance
export are not empty. The scheduling seed moves those sessions relative to today on
every run, so the room rows of these sessions are rebuilt each time (idempotent: the
same rows, at the same offsets from the session's start).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TextIO

from django.db import transaction

from server.people.models import User
from sessions.models import (
    Attendance,
    LiveSession,
    Participant,
    Poll,
    PollOption,
    PollStatus,
    PollVote,
    Question,
    QuestionStatus,
    QuestionVote,
    RoomEvent,
    RoomState,
    SessionStatus,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PastRoom:
    host: str
    title: str
    #: (username, minutes after the start, text)
    chat: tuple[tuple[str, int, str], ...]
    #: (username, minutes, text, status, voters)
    questions: tuple[tuple[str, int, str, str, tuple[str, ...]], ...]
    #: (question, options, {username: option index}, opened at minute, closed at minute)
    poll: tuple[str, tuple[str, ...], dict[str, int], int, int]
    #: (username, joined minute, left minute)
    attendance: tuple[tuple[str, int, int], ...]


PAST_ROOMS = [
    PastRoom(
        host="hoffmann",
        title="Syncope in a teenager",
        chat=(
            ("hoffmann", 1, "Welcome everyone. Greta presents; questions in the Questions panel please."),
            ("greta", 3, "A 16-year-old collapsed during a football match and recovered within a minute."),
            ("amina", 9, "Was there any prodrome? Chest pain or palpitations before?"),
            ("greta", 10, "Palpitations for a few seconds, no chest pain."),
            ("lukas", 14, "The ECG shows a QTc of about 490 ms, right?"),
            ("priya", 22, "In Pune we would ask about deaths in the family before 40."),
            ("hoffmann", 55, "Thank you all. The recommendations follow on the session page."),
        ),
        questions=(
            ("amina", 12, "Which drugs should she avoid until the genetic test is back?", QuestionStatus.ANSWERED, ("lukas", "priya")),
            ("priya", 25, "Is an exercise test safe in suspected long QT?", QuestionStatus.ANSWERED, ("amina",)),
            ("lukas", 40, "Would you screen her siblings now or wait?", QuestionStatus.OPEN, ()),
        ),
        poll=(
            "Most likely diagnosis?",
            ("Vasovagal syncope", "Long QT syndrome", "Hypertrophic cardiomyopathy"),
            {"amina": 1, "lukas": 1, "priya": 2, "greta": 1},
            30, 34,
        ),
        attendance=(("hoffmann", 0, 60), ("greta", 0, 60), ("amina", 2, 58), ("lukas", 4, 60), ("priya", 6, 45)),
    ),
    PastRoom(
        host="priya",
        title="Antibiotic stewardship in our hospitals",
        chat=(
            ("priya", 1, "Hello! Let's each say how our hospital restricts antibiotics."),
            ("lukas", 4, "Heidelberg: carbapenems need an infectious diseases consult."),
            ("beatriz", 7, "São Paulo has a restriction list too, reviewed every year."),
            ("priya", 15, "We have no list yet; prescribing data would help us start one."),
        ),
        questions=(
            ("lukas", 20, "Who reviews the restriction list in São Paulo?", QuestionStatus.ANSWERED, ("priya",)),
        ),
        poll=(
            "Does your hospital publish local resistance data?",
            ("Yes, every year", "Yes, but rarely", "No"),
            {"lukas": 0, "beatriz": 1, "priya": 2},
            25, 28,
        ),
        attendance=(("priya", 0, 60), ("lukas", 1, 60), ("beatriz", 3, 52)),
    ),
]


@transaction.atomic
def seed(stdout: TextIO) -> None:
    """Rebuild the room record of each past demo session (needs the scheduling seed first)."""
    names = {name for room in PAST_ROOMS for name in _usernames(room)}
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    done = 0
    for room in PAST_ROOMS:
        host = users.get(room.host)
        session = LiveSession.objects.filter(host=host, title=room.title).first() if host else None
        if session is None or session.status != SessionStatus.ENDED:
            continue
        _rebuild(session, room, users)
        done += 1
    stdout.write(f"Room: {done} past sessions with chat, questions, a poll and attendance.\n")


def _usernames(room: PastRoom) -> set[str]:
    return (
        {room.host} | {c[0] for c in room.chat} | {q[0] for q in room.questions}
        | {v for q in room.questions for v in q[4]} | set(room.poll[2]) | {a[0] for a in room.attendance}
    )


def _rebuild(session: LiveSession, room: PastRoom, users: dict[str, User]) -> None:
    from .selectors import participant_cards, poll_public, question_public

    for model in (RoomEvent, Attendance, Question, Poll, Participant):
        model.objects.filter(session=session).delete()
    start = session.starts_at

    def at(minute: int) -> dt.datetime:
        return start + dt.timedelta(minutes=minute)

    timeline: list[tuple[dt.datetime, str, dict, int | None]] = []  # (when, type, payload, actor)
    for username, joined, left in room.attendance:
        user = users.get(username)
        if user is None:
            continue
        role = "host" if user.pk == session.host_id else ("presenter" if user.pk == session.presenter_id else "attendee")
        Participant.objects.create(session=session, user=user, role=role, first_joined_at=at(joined))
        Attendance.objects.create(session=session, user=user, joined_at=at(joined), left_at=at(left))
    for username, joined, left in room.attendance:
        user = users.get(username)
        if user is None:
            continue
        timeline.append((at(joined), "presence", {"joined": participant_cards(session_id=session.pk, user_ids=[user.pk]), "left": []}, None))
        timeline.append((at(left), "presence", {"joined": [], "left": [user.pk]}, None))
    for username, minute, text in room.chat:
        user = users.get(username)
        if user is not None:
            timeline.append((at(minute), "chat.message", {"user_id": user.pk, "name": user.name, "text": text}, user.pk))
    for username, minute, text, status, voters in room.questions:
        author = users.get(username)
        if author is None:
            continue
        question = Question.objects.create(session=session, author=author, text=text, created_at=at(minute))
        for voter in voters:
            if voter in users:
                QuestionVote.objects.create(question=question, user=users[voter])
        question.votes = len([v for v in voters if v in users])
        question.save(update_fields=["votes"])
        timeline.append((at(minute), "question.asked", {"question": question_public(question, author_name=author.name)}, author.pk))
        if status != QuestionStatus.OPEN:
            Question.objects.filter(pk=question.pk).update(status=status)
            kind = "question.answered" if status == QuestionStatus.ANSWERED else "question.dismissed"
            timeline.append((at(minute + 5), kind, {"question_id": question.pk}, session.host_id))
    text, labels, choices, opened, closed = room.poll
    poll = Poll.objects.create(session=session, created_by_id=session.host_id, question=text, created_at=at(opened))
    options = PollOption.objects.bulk_create([PollOption(poll=poll, label=label, position=i) for i, label in enumerate(labels)])
    timeline.append((at(opened), "poll.opened", {"poll": poll_public(poll)}, session.host_id))
    PollVote.objects.bulk_create(
        [PollVote(poll=poll, option=options[index], user=users[name], created_at=at(opened + 1)) for name, index in choices.items() if name in users]
    )
    Poll.objects.filter(pk=poll.pk).update(status=PollStatus.CLOSED, closed_at=at(closed), version=len(choices))
    poll.refresh_from_db()
    timeline.append((at(closed), "poll.closed", {"poll": poll_public(poll)}, session.host_id))
    timeline.sort(key=lambda item: item[0])
    RoomEvent.objects.bulk_create([
        RoomEvent(session=session, seq=seq, type=kind, payload=payload, actor_id=actor, created_at=when)
        for seq, (when, kind, payload, actor) in enumerate(timeline, start=1)
    ])
    RoomState.objects.update_or_create(
        session=session,
        defaults={"last_seq": len(timeline), "started_at": start, "ended_at": session.ends_at, "locked": False, "chat_enabled": True},
    )
