"""Request and user types for the type checker.

A view behind `login_required` (or an API route behind the API's authentication) always
has a signed-in `User` on `request.user`; annotating it `AuthenticatedHttpRequest` says
so, where plain `HttpRequest` would allow `AnonymousUser`. Nothing changes at run time:
Django still passes its own `HttpRequest`. `AnyUser` is whoever a public page may be
shown to, signed in or not.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User


AnyUser = User | AnonymousUser
