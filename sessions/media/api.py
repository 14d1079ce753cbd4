"""JSON endpoints of the media part: ICE servers with time-limited TURN credentials."""

from __future__ import annotations

from ninja import Router, Schema

from server.people.http import AuthenticatedHttpRequest

from .turn import ice_servers_for

router = Router()


class IceServerOut(Schema):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceConfigOut(Schema):
    ice_servers: list[IceServerOut]
    expires_at: int | None


@router.get("/ice-servers", response=IceConfigOut, summary="ICE servers for WebRTC, with short-lived TURN credentials")
def ice_servers(request: AuthenticatedHttpRequest) -> IceConfigOut:
    servers, expiry = ice_servers_for(user_id=request.user.pk)
    return IceConfigOut(
        ice_servers=[IceServerOut(urls=s.urls, username=s.username, credential=s.credential) for s in servers],
        expires_at=expiry,
    )
