"""The live room of a session: its event log, who is in it, and its interactive objects.

The room's truth is in the database, not in any process: every event others see is a
`RoomEvent` with a per-session sequence number (allocated under a row lock on
`RoomState`), stored before the sender gets an acknowledgement, so a reconnecting client
or a restarted process can always catch up from here. Live delivery (Redis or in-memory)
only makes it fast. See `sessions/room/` and docs/protocol.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "Attendance",
    "LobbyRequest",
    "LobbyStatus",
    "Participant",
    "Poll",
    "PollOption",
    "PollStatus",
    "PollVote",
    "Question",
    "QuestionStatus",
    "QuestionVote",
    "RoomConnection",
    "RoomEvent",
    "RoomProcess",
    "RoomState",
]


class RoomState(models.Model):
    """The moderation state of one room and the counter of its event sequence.

    `last_seq` is incremented inside the transaction that stores each event, so the row
    lock orders events of one session across every process.
    """

    session = models.OneToOneField("live.LiveSession", on_delete=models.CASCADE, primary_key=True, related_name="room_state")
    last_seq = models.PositiveBigIntegerField(default=0)
    locked = models.BooleanField(_("locked"), default=False)
    chat_enabled = models.BooleanField(_("chat enabled"), default=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"room of session {self.session_id}"


class RoomEvent(models.Model):
    """One thing that happened in a room, in order (`seq`), kept for replay.

    `client_id` is the sender's message id: the same id from the same person stores the
    event once, which makes sends idempotent across reconnects. `visible_to` is None for
    events everyone in the room sees, or a list of user ids for private ones.
    """

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="room_events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=48)
    payload = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    client_id = models.CharField(max_length=64, blank=True, default="")
    visible_to = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="room_event_seq_unique"),
            models.UniqueConstraint(
                fields=["session", "actor", "client_id"], condition=~Q(client_id=""), name="room_event_client_id_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.type}"


class Participant(models.Model):
    """A person admitted to a room at least once, with their role and moderation state.

    Presence (being connected right now) is `RoomConnection`; this row outlives it, so a
    removed person stays removed and a role survives a reconnect.
    """

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_participations")
    role = models.CharField(max_length=20, default="attendee")
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    has_floor = models.BooleanField(default=False)
    muted = models.BooleanField(default=False)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    first_joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_participant_per_person")]
        ordering = ["first_joined_at", "pk"]


class RoomProcess(models.Model):
    """A server process holding room sockets; its heartbeat keeps its connections alive.

    One row per process (not per socket) is refreshed every few seconds, so presence costs
    one write per process per beat however many people are connected.
    """

    id = models.CharField(max_length=40, primary_key=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)


class RoomConnection(models.Model):
    """One open socket of one person in one room, owned by a process."""

    channel_name = models.CharField(max_length=120, unique=True)
    process = models.ForeignKey(RoomProcess, on_delete=models.CASCADE, related_name="connections")
    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="room_connections")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    in_lobby = models.BooleanField(default=False)
    connected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["session", "user"])]


class Attendance(models.Model):
    """One stretch of presence: from a person's first socket to their last one closing."""

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendance")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "pk"]
        indexes = [models.Index(fields=["session", "user", "left_at"])]


class LobbyStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    ADMITTED = "admitted", _("Admitted")
    REFUSED = "refused", _("Refused")


class LobbyRequest(models.Model):
    """A person waiting to be let in by the host (rooms with the lobby on)."""

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="lobby_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=LobbyStatus.choices, default=LobbyStatus.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_lobby_request_per_person")]
        ordering = ["created_at", "pk"]


class QuestionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    DISMISSED = "dismissed", _("Dismissed")


class Question(models.Model):
    """A question for the host, ranked by up-votes (one per person)."""

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="questions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(max_length=500)
    status = models.CharField(max_length=10, choices=QuestionStatus.choices, default=QuestionStatus.OPEN)
    votes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-votes", "created_at"]


class QuestionVote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="vote_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "user"], name="one_question_vote_per_person")]


class PollStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Poll(models.Model):
    """A single- or multiple-choice poll. `version` grows with every vote so clients keep
    the newest counts when coalesced updates from several processes cross."""

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="polls")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    question = models.CharField(max_length=300)
    multiple = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=PollStatus.choices, default=PollStatus.OPEN)
    version = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]


class PollOption(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(max_length=120)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]


class PollVote(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="vote_rows")
    option = models.ForeignKey(PollOption, on_delete=models.CASCADE, related_name="vote_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "option", "user"], name="one_vote_per_option_per_person")]
        indexes = [models.Index(fields=["poll", "user"])]
