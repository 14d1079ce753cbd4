"""Media workers in a Redis registry: placement by load, failover, drain (sessions/media/placement.py).

The registry tests talk to the real Redis. The failover and drain tests run real
`manage.py media_worker` processes beside the test's own room sockets, with aiortc
playing the browsers: a worker is killed with SIGKILL (or drained with SIGTERM) in the
middle of a session, and the people's media must flow again through the other worker
without their room socket being touched.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import pytest
from channels.db import database_sync_to_async

from sessions.media.placement import PlacementFull, WorkerInfo, WorkerLoad, WorkerRegistry
from sessions.models import SessionKind
from tests.conftest import need_component
from tests.sessions.media.test_browser_media import media_worker_process  # noqa: F401  (fixture)
from tests.sessions.media.test_sfu import MovingVideoTrack, ToneTrack

from .conftest import make_session, wait_until

pytestmark = [pytest.mark.realservices, pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def registry(settings):
    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    settings.REDIS_NAMESPACE = f"{settings.REDIS_NAMESPACE}-placement-{uuid.uuid4().hex[:6]}"
    settings.MEDIA_WORKER_DEAD_AFTER_SECONDS = 0.5
    registry = WorkerRegistry(settings.REDIS_URL)
    yield registry
    await registry.close()


def worker(worker_id: str, *, forwarded: int = 0, draining: bool = False) -> WorkerInfo:
    return WorkerInfo(id=worker_id, channel=f"media-worker-{worker_id}", draining=draining,
                      load=WorkerLoad(forwarded=forwarded))


async def test_a_session_goes_to_the_least_loaded_live_worker_and_stays_there(registry):
    await registry.announce(worker("a", forwarded=300))
    await registry.announce(worker("b", forwarded=20))
    assert (await registry.place(1)).id == "b"
    # b grows busier, but session 1 stays where its media is; a new session goes to a.
    await registry.announce(worker("b", forwarded=900))
    assert (await registry.place(1)).id == "b"
    assert (await registry.place(2)).id == "a"
    assert sorted(await registry.sessions_of("b")) == [1]


async def test_a_draining_worker_takes_no_new_session_and_no_worker_means_no_placement(registry):
    assert await registry.place(1) is None
    await registry.announce(worker("a", draining=True))
    assert await registry.place(1) is None
    await registry.announce(worker("b", forwarded=500))
    assert (await registry.place(1)).id == "b"


async def test_garbage_in_the_registry_is_ignored(registry, settings):
    import redis.asyncio as aioredis

    ns = f"{settings.REDIS_NAMESPACE}:media"
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        await client.sadd(f"{ns}:workers", "evil", "bad-channel", "nan")
        await client.set(f"{ns}:worker:evil", b"{not json")
        await client.set(f"{ns}:worker:bad-channel", '{"id": "bad-channel", "channel": "someone-elses-channel"}')
        await client.set(f"{ns}:worker:nan", '{"id": "nan", "channel": "media-worker-nan", "load": {"cpu": "NaN"}}')
        await registry.announce(worker("good"))
        assert [info.id for info in await registry.alive()] == ["good"]
        assert (await registry.place(7)).id == "good"
    finally:
        await client.aclose()


async def test_a_dead_worker_is_reaped_once_and_its_sessions_are_free_to_move(registry):
    await registry.announce(worker("a"))
    assert (await registry.place(5)).id == "a"
    await asyncio.sleep(0.7)  # a's heartbeats stop: its entry expires
    await registry.announce(worker("b"))
    results = await asyncio.gather(registry.reap(), registry.reap(), registry.reap())
    assert [r for r in results if r] == [{"a": [5]}], "exactly one reaper tells the room"
    assert await registry.placed_on(5) is None
    assert (await registry.place(5)).id == "b"


async def test_a_folder_of_pieces_is_joined_by_one_worker_and_never_left_claimed_by_a_dead_or_failed_one(registry):
    """Two live workers ask at once: one wins. A keeper that died holding the claim is taken
    over; one whose join failed gives it back: the pieces are always joined by someone."""
    await registry.announce(worker("a"))
    await registry.announce(worker("b"))
    won = await asyncio.gather(registry.recording_pieces_claim(7, "f1", "a"), registry.recording_pieces_claim(7, "f1", "b"))
    assert sorted(won) == [False, True]
    # The keeper's join failed: it gives the claim back, and the other worker gets it.
    holder = "a" if won[0] else "b"
    other = "b" if holder == "a" else "a"
    await registry.recording_pieces_unclaim(7, ["f1"], holder)
    assert await registry.recording_pieces_claim(7, "f1", other)
    # A keeper killed halfway: once its heartbeat expires, a live worker takes its claim over.
    assert await registry.recording_pieces_claim(7, "f2", "gone")  # "gone" has no heartbeat: dead
    assert await registry.recording_pieces_claim(7, "f2", "a")
    assert not await registry.recording_pieces_claim(7, "f2", "b")  # a is alive: its claim holds
    await registry.announce(worker("c"))
    assert await registry.recording_pieces_claim(7, "f3", "c")
    assert not await registry.recording_pieces_claim(7, "f3", "a")  # c is alive: its claim holds
    await asyncio.sleep(0.7)  # c's heartbeats stop
    await registry.announce(worker("a"))
    assert await registry.recording_pieces_claim(7, "f3", "a")


async def test_viewers_beyond_the_session_cap_or_every_workers_hard_limit_are_refused_speakers_never(registry, settings):
    settings.MEDIA_SESSION_SFU_CAP = 2
    settings.MEDIA_WORKER_HARD_LIMIT = 0
    await registry.announce(worker("a"))
    assert (await registry.place_participant(9, "host", viewer=False)).id == "a"
    assert (await registry.place_participant(9, "v1", viewer=True)).id == "a"
    with pytest.raises(PlacementFull) as full:
        await registry.place_participant(9, "v2", viewer=True)
    assert full.value.reason == "session_cap"
    assert (await registry.place_participant(9, "v1", viewer=True)).id == "a", "someone already in stays in"
    assert (await registry.place_participant(9, "presenter", viewer=False)).id == "a", "a speaker is never refused"
    await registry.release_participant(9, "v1", "a")
    await registry.release_participant(9, "presenter", "a")
    assert (await registry.place_participant(9, "v2", viewer=True)).id == "a", "a seat freed is a seat taken"
    settings.MEDIA_SESSION_SFU_CAP = 0
    settings.MEDIA_WORKER_HARD_LIMIT = 2
    with pytest.raises(PlacementFull) as full:  # a carries 2 = its hard limit, and it is the only worker
        await registry.place_participant(10, "v3", viewer=True)
    assert full.value.reason == "workers_full"
    await registry.announce(worker("b"))
    assert (await registry.place_participant(10, "v3", viewer=True)).id == "b", "a new worker adds room"


# ------------------------------------------------------------------------ processes


@database_sync_to_async
def peer_session(people):
    return make_session(people, kind=SessionKind.PEER, host=people.amina)


async def live_workers(count: int, timeout: float = 30.0) -> list[WorkerInfo]:
    registry = WorkerRegistry()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            alive = [info for info in await registry.alive() if not info.draining]
            if len(alive) >= count:
                return alive
            await asyncio.sleep(0.2)
    finally:
        await registry.close()
    raise AssertionError(f"{count} media workers did not announce themselves")


@pytest.fixture
def separate_workers(settings, media_worker_process):
    """`start(**env)` → a `manage.py media_worker` process placed through the registry."""
    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    settings.MEDIA_WORKER_IN_PROCESS = False
    settings.MEDIA_PLACEMENT = "registry"
    return lambda **env: media_worker_process(MEDIA_WORKER_IN_PROCESS="0", MEDIA_PLACEMENT="registry",
                                              MEDIA_DRAIN_SECONDS="5", **env)


async def two_people_on_one_worker(people, clients, separate_workers):
    first = separate_workers()
    (a,) = await live_workers(1)
    live = await peer_session(people)
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    answer = await amina.join(ToneTrack(), MovingVideoTrack())
    assert answer["type"] == "media.answer" and answer["worker"] == a.id
    assert (await lukas.join())["worker"] == a.id
    await lukas.send("media.subscribe", publisher="*", kinds=["audio", "video"])
    await wait_until(lambda: lukas.decoded["video"] >= 10 and lukas.decoded["audio"] >= 20, 20)
    second = separate_workers()
    await live_workers(2)
    return live, first, second, a, amina, lukas


async def moved_and_flowing_again(amina, lukas, old_worker: str, reason: str) -> str:
    for client in (amina, lukas):
        moved = await client.expect(lambda m: m.get("type") == "media.moved" and m["data"]["worker"] == old_worker, 20)
        assert moved["data"]["reason"] == reason
    started = time.monotonic()
    answer = await amina.move(ToneTrack(), MovingVideoTrack())
    assert answer["type"] == "media.answer" and answer["worker"] != old_worker
    assert (await lukas.move(kinds=["audio", "video"]))["worker"] == answer["worker"]
    await wait_until(lambda: lukas.decoded["video"] >= 10 and lukas.decoded["audio"] >= 20, 20)
    assert time.monotonic() - started < 20
    return answer["worker"]


async def test_when_a_media_worker_is_killed_its_session_moves_and_media_flows_again(people, separate_workers, clients):
    live, first, second, a, amina, lukas = await two_people_on_one_worker(people, clients, separate_workers)
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    new_worker = await moved_and_flowing_again(amina, lukas, a.id, "worker_lost")
    registry = WorkerRegistry()
    try:
        assert (await registry.placed_on(live.pk)).id == new_worker
        assert a.id not in [info.id for info in await registry.alive()]
    finally:
        await registry.close()
    assert second.poll() is None


async def test_a_drained_worker_hands_its_session_over_and_exits_without_touching_the_room_socket(
    people, separate_workers, clients
):
    live, first, second, a, amina, lukas = await two_people_on_one_worker(people, clients, separate_workers)
    socket_before = amina.socket
    first.send_signal(signal.SIGTERM)  # a deploy stops the worker
    await moved_and_flowing_again(amina, lukas, a.id, "worker_draining")
    deadline = time.monotonic() + 20
    while first.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert first.returncode == 0, "the drained worker exits by itself once its people have left"
    assert amina.socket is socket_before
    await amina.send("chat.send", text="still here")
    await lukas.expect(lambda m: m.get("type") == "chat.message" and m["data"].get("text") == "still here")


# ------------------------------------------------------------------------ seats


async def test_viewers_joining_at_once_through_several_web_processes_never_overshoot_the_cap(registry, settings):
    """The check and the seat are one Lua script: twelve viewers at once, three seats."""
    settings.MEDIA_SESSION_SFU_CAP = 3
    settings.MEDIA_WORKER_HARD_LIMIT = 0
    web = [WorkerRegistry(settings.REDIS_URL) for _ in range(3)]  # three daphne processes
    try:
        await registry.announce(worker("a"))
        results = await asyncio.gather(
            *(web[n % 3].place_participant(11, f"v{n}", viewer=True) for n in range(12)), return_exceptions=True)
    finally:
        for other in web:
            await other.close()
    placed = [r for r in results if isinstance(r, WorkerInfo)]
    refused = [r for r in results if isinstance(r, PlacementFull)]
    assert len(placed) == 3 and len(refused) == 9, results
    assert {r.reason for r in refused} == {"session_cap"}
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        assert await client.scard(f"{settings.REDIS_NAMESPACE}:media:session:11:participants") == 3
    finally:
        await client.aclose()


async def test_a_dead_workers_seats_are_given_back_so_refused_viewers_get_in(registry, settings):
    settings.MEDIA_SESSION_SFU_CAP = 2
    settings.MEDIA_WORKER_HARD_LIMIT = 0
    await registry.announce(worker("a"))
    await registry.place_participant(12, "host", viewer=False)
    await registry.place_participant(12, "v1", viewer=True)
    with pytest.raises(PlacementFull):
        await registry.place_participant(12, "v2", viewer=True)
    await asyncio.sleep(0.7)  # a is killed: its heartbeats stop
    await registry.announce(worker("b"))
    assert await registry.reap() == {"a": [12]}
    assert await registry.participant_on(12, "v1") is None
    assert (await registry.place_participant(12, "v2", viewer=True)).id == "b", "a dead worker holds no seat"


@pytest.fixture
async def registry_workers(settings):
    """`await start(worker_id)` → a MediaWorker serving in this process, placed through the
    real Redis registry (the production path, in one process: the room sockets' signalling
    places people and forwards over the channel layer). No cascade links."""
    from sessions.media.placement import worker_channel_prefix, worker_registry
    from sessions.media.worker import MediaWorker

    need_component("Redis", bool(getattr(settings, "REDIS_URL", "")))
    settings.REDIS_NAMESPACE = f"{settings.REDIS_NAMESPACE}-workers-{uuid.uuid4().hex[:6]}"
    settings.MEDIA_WORKER_IN_PROCESS = False
    settings.MEDIA_PLACEMENT = "registry"
    settings.MEDIA_CASCADE = False
    started: list[tuple[MediaWorker, asyncio.Task]] = []

    async def start(worker_id: str) -> MediaWorker:
        media = MediaWorker(channel=f"{worker_channel_prefix()}{worker_id}", registry=WorkerRegistry(settings.REDIS_URL),
                            worker_id=worker_id)
        task = asyncio.ensure_future(media.run())
        started.append((media, task))
        await asyncio.wait_for(media.ready.wait(), 5)
        return media

    yield start
    for _media, task in started:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
    await worker_registry().close()


async def test_a_viewer_whose_connection_closes_without_a_leave_gives_the_seat_back(
    people, clients, registry_workers, settings
):
    """The tab closed (DTLS close, no `media.leave`): the SFU drops the peer, and the seat
    goes back, so the next viewer the full session refused gets in."""
    settings.MEDIA_SESSION_SFU_CAP = 2
    media = await registry_workers("seats")
    live = await database_sync_to_async(make_session)(people)
    host = await clients(people.tanaka, live.pk)
    assert (await host.join(ToneTrack(), MovingVideoTrack()))["worker"] == "seats"
    amina = await clients(people.amina, live.pk)
    lukas = await clients(people.lukas, live.pk)
    assert (await amina.join())["type"] == "media.answer"
    await wait_until(lambda: amina.pc.connectionState == "connected", 15)
    refused = await lukas.join()
    assert refused["type"] == "media.error" and refused["code"] == "media_full", refused
    await amina.pc.close()  # no goodbye
    await wait_until(lambda: str(people.amina.pk) not in media.sfu.room(str(live.pk)).participant_ids, 15)
    registry = WorkerRegistry(settings.REDIS_URL)
    try:
        for _ in range(50):
            if await registry.participant_on(live.pk, str(people.amina.pk)) is None:
                break
            await asyncio.sleep(0.1)
        assert await registry.participant_on(live.pk, str(people.amina.pk)) is None, "the seat is given back"
    finally:
        await registry.close()
    assert (await lukas.move())["type"] == "media.answer", "the refused viewer gets the freed seat"
