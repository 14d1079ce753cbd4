"""Values every page template needs: the user's school and data-saver choice."""

from __future__ import annotations

from django.http import HttpRequest


def openrounds(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"data_saver": request.COOKIES.get("data_saver") == "1"}
    return {"data_saver": user.data_saver}
