"""The room socket as people use it: join, snapshot, chat, hands, floor, questions, polls."""

from __future__ import annotations

import pytest

from sessions.models import Attendance, Participant, PollVote, RoomEvent

from .conftest import db, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


async def test_joining_sends_a_snapshot_with_role_permissions_and_people(people, live):
    host = await open_socket(people.tanaka, live.pk)
    snap = host.snapshot
    assert snap["v"] == 1
    assert snap["you"]["role"] == "host"
    assert "moderate" in snap["you"]["permissions"]
    amina = await open_socket(people.amina, live.pk)
    me = amina.snapshot["you"]
    assert me["role"] == "attendee" and "moderate" not in me["permissions"]
    cards = {c["user_id"]: c for c in amina.snapshot["participants"]}
    assert cards[people.tanaka.pk]["country"] == "JP"
    assert cards[people.amina.pk]["country"] == "NG"
    assert cards[people.tanaka.pk]["school"]
    presence = await host.expect(lambda m: m["type"] == "presence" and any(c["user_id"] == people.amina.pk for c in m["data"]["joined"]))
    assert presence["seq"] > 0
    await amina.close()
    left = await host.expect(lambda m: m["type"] == "presence" and people.amina.pk in m["data"]["left"])
    assert left["seq"] > presence["seq"]
    await host.close()


async def test_chat_is_stored_acknowledged_and_seen_by_everyone(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    ack = await amina.call("chat.send", text="What troponin cut-off do you use?", id="m1")
    assert ack["type"] == "ack" and ack["seq"] > 0
    seen = await host.expect_type("chat.message")
    assert seen["seq"] == ack["seq"]
    assert seen["data"]["text"] == "What troponin cut-off do you use?"
    assert seen["data"]["name"] == people.amina.name
    assert await db(lambda: RoomEvent.objects.filter(session=live, type="chat.message").count()) == 1
    await host.close()
    await amina.close()


async def test_resending_a_message_id_stores_it_once_and_acks_the_same_number(people, live):
    amina = await open_socket(people.amina, live.pk)
    first = await amina.call("chat.send", text="hello", id="same-id")
    again = await amina.call("chat.send", text="hello", id="same-id")
    assert first["seq"] == again["seq"]
    assert await db(lambda: RoomEvent.objects.filter(session=live, type="chat.message").count()) == 1
    await amina.close()


async def test_reconnecting_with_the_last_number_gets_exactly_what_was_missed(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    first = await host.call("chat.send", text="one")
    await amina.expect(lambda m: m.get("seq") == first["seq"])
    await amina.close()
    second = await host.call("chat.send", text="two")
    third = await host.call("chat.send", text="three")
    back = await open_socket(people.amina, live.pk, query=f"since={first['seq']}")
    chats = [e for e in back.snapshot["events"] if e["type"] == "chat.message"]
    assert [e["data"]["text"] for e in chats] == ["two", "three"]
    assert [e["seq"] for e in chats] == [second["seq"], third["seq"]]
    seqs = [e["seq"] for e in back.snapshot["events"]]
    assert seqs == sorted(set(seqs)) and min(seqs) > first["seq"]
    await back.close()
    await host.close()


async def test_hands_go_up_and_down_and_the_host_grants_the_floor(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await amina.call("hand.raise"))["type"] == "ack"
    raised = await host.expect_type("hand.raised")
    assert raised["data"]["user_id"] == people.amina.pk
    assert (await host.call("floor.grant", user_id=people.amina.pk))["type"] == "ack"
    granted = await amina.expect_type("floor.granted")
    assert granted["data"]["user_id"] == people.amina.pk
    participant = await db(lambda: Participant.objects.get(session=live, user=people.amina))
    assert participant.has_floor and participant.hand_raised_at is None
    assert (await host.call("floor.revoke", user_id=people.amina.pk))["type"] == "ack"
    await amina.expect_type("floor.revoked")
    await amina.call("hand.raise")
    await amina.call("hand.lower")
    await host.expect_type("hand.lowered")
    await amina.call("hand.raise")
    assert (await host.call("hand.lower", user_id=people.amina.pk))["type"] == "ack"
    lowered = await amina.expect_type("hand.lowered")
    assert lowered["data"]["user_id"] == people.amina.pk
    await host.close()
    await amina.close()


async def test_questions_take_one_upvote_per_person_and_the_host_closes_them(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    lukas = await open_socket(people.lukas, live.pk)
    ack = await amina.call("question.ask", text="Would you thrombolyse here?")
    asked = await host.expect_type("question.asked")
    question_id = asked["data"]["question"]["id"]
    assert asked["seq"] == ack["seq"]
    assert (await lukas.call("question.upvote", question_id=question_id))["type"] == "ack"
    voted = await host.expect_type("question.voted")
    assert voted["data"]["votes"] == 1
    twice = await lukas.call("question.upvote", question_id=question_id)
    assert twice["type"] == "error" and twice["code"] == "conflict"
    assert (await host.call("question.answer", question_id=question_id))["type"] == "ack"
    await amina.expect_type("question.answered")
    other = await amina.call("question.ask", text="And the dose?")
    second = (await host.expect_type("question.asked"))["data"]["question"]["id"]
    assert other["type"] == "ack"
    assert (await host.call("question.dismiss", question_id=second))["type"] == "ack"
    await lukas.expect_type("question.dismissed")
    late = await open_socket(people.chikondi, live.pk)
    assert late.snapshot["questions"] == []  # answered and dismissed ones are not open
    for sock in (host, amina, lukas, late):
        await sock.close()


async def test_a_poll_counts_every_vote_live_and_keeps_its_results(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    lukas = await open_socket(people.lukas, live.pk)
    ack = await host.call("poll.create", question="Most likely diagnosis?", options=["STEMI", "Dissection", "PE"])
    assert ack["type"] == "ack"
    opened = await amina.expect_type("poll.opened")
    poll = opened["data"]["poll"]
    stemi, dissection = poll["options"][0]["id"], poll["options"][1]["id"]
    assert (await amina.call("poll.vote", poll_id=poll["id"], option_ids=[stemi]))["type"] == "ack"
    assert (await lukas.call("poll.vote", poll_id=poll["id"], option_ids=[dissection]))["type"] == "ack"
    # Amina changes her mind: one person, one (single-choice) vote.
    assert (await amina.call("poll.vote", poll_id=poll["id"], option_ids=[dissection]))["type"] == "ack"
    counts = await host.expect(lambda m: m["type"] == "poll.counts" and m["data"]["voters"] == 2 and m["data"]["counts"].get(str(dissection)) == 2)
    assert counts["data"]["counts"].get(str(stemi), 0) == 0
    two = await lukas.call("poll.vote", poll_id=poll["id"], option_ids=[stemi, dissection])
    assert two["type"] == "error" and two["code"] == "wrong_field"
    assert (await host.call("poll.close", poll_id=poll["id"]))["type"] == "ack"
    closed = await lukas.expect_type("poll.closed")
    assert closed["data"]["poll"]["counts"][str(dissection)] == 2
    late = await lukas.call("poll.vote", poll_id=poll["id"], option_ids=[stemi])
    assert late["type"] == "error" and late["code"] == "conflict"
    assert await db(lambda: PollVote.objects.filter(poll_id=poll["id"]).count()) == 2
    newcomer = await open_socket(people.chikondi, live.pk)
    kept = newcomer.snapshot["polls"][0]
    assert kept["status"] == "closed" and kept["counts"][str(dissection)] == 2
    for sock in (host, amina, lukas, newcomer):
        await sock.close()


async def test_a_multiple_choice_poll_takes_several_options(people, live):
    host = await open_socket(people.tanaka, live.pk)
    await host.call("poll.create", question="Which tests?", options=["ECG", "Troponin", "CT"], multiple=True)
    poll = (await host.expect_type("poll.opened"))["data"]["poll"]
    ids = [o["id"] for o in poll["options"]]
    assert (await host.call("poll.vote", poll_id=poll["id"], option_ids=ids[:2]))["type"] == "ack"
    counts = await host.expect_type("poll.counts")
    assert counts["data"]["counts"] == {str(ids[0]): 1, str(ids[1]): 1}
    await host.close()


async def test_attendance_records_join_and_leave(people, live):
    amina = await open_socket(people.amina, live.pk)
    host = await open_socket(people.tanaka, live.pk)
    await host.expect(lambda m: m["type"] == "presence" and any(c["user_id"] == people.tanaka.pk for c in m["data"]["joined"]))
    await amina.close()
    await host.expect(lambda m: m["type"] == "presence" and people.amina.pk in m["data"]["left"])
    rows = await db(lambda: list(Attendance.objects.filter(session=live, user=people.amina)))
    assert len(rows) == 1 and rows[0].left_at is not None and rows[0].left_at >= rows[0].joined_at
    await host.close()


@pytest.mark.django_db
def test_votes_written_together_keep_each_persons_last_choice_and_refuse_only_the_bad_one(people, live):
    from sessions.models import Participant, Poll, PollOption, PollVote
    from sessions.room.services import VoteRequest, poll_votes_record

    for person in (people.amina, people.lukas):
        Participant.objects.create(session=live, user=person)
    poll = Poll.objects.create(session=live, created_by=people.tanaka, question="Next step?")
    a, b = PollOption.objects.bulk_create([PollOption(poll=poll, label="Echo"), PollOption(poll=poll, label="CT")])
    results = poll_votes_record(votes=[
        VoteRequest(live.pk, people.amina.pk, poll.pk, (a.pk,)),
        VoteRequest(live.pk, people.lukas.pk, poll.pk, (a.pk, b.pk)),  # one choice only
        VoteRequest(live.pk, people.amina.pk, poll.pk, (b.pk,)),  # changes her mind in the same group
        VoteRequest(live.pk, people.chikondi.pk, poll.pk, (a.pk,)),  # never joined the room
    ])
    assert results[0] is None and results[2] is None
    assert results[1].code == "wrong_field" and results[3].code == "forbidden"
    assert list(PollVote.objects.filter(poll=poll).values_list("user_id", "option_id")) == [(people.amina.pk, b.pk)]
