"""Clean-up of broadcast folders by the bucket itself: an S3 lifecycle rule on `broadcasts/`.

Why a lifecycle rule and not deletes by the worker when the recording is made: the HLS
folder of an ended broadcast is still its replay (its playlists end with ENDLIST and the
room serves them, with the 360p and audio renditions for poor connections) while the
session's MP4 recording waits to be published; the storage expires objects itself, at no
cost to a media worker, and a worker killed before its clean-up would leave folders that
nothing deletes. A two-hour lecture is about 10,800 segment objects (3 renditions, 2 s
each): the bucket drops them in its own time instead of a worker sending 11 DeleteObjects
calls at the moment it is busiest (the end of a session). What remains for good is the
recording (`recordings/`), which the session keeps.

`manage.py broadcast_lifecycle` applies the rule (idempotent; other rules of the bucket are
kept); `BROADCAST_HLS_KEEP_DAYS` (default 30) says how long a broadcast's segments stay.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

#: The rule's id in the bucket's lifecycle configuration (replaced, never duplicated).
RULE_ID = "openrounds-broadcast-hls"


class LifecycleUnsupported(RuntimeError):
    """The default storage is not an S3 bucket (development's file system)."""


def broadcast_keep_days() -> int:
    return max(1, int(getattr(settings, "BROADCAST_HLS_KEEP_DAYS", 30)))


def broadcast_lifecycle_rule(*, prefix: str, days: int) -> dict[str, Any]:
    """Expire every object under `prefix` `days` after it was written; drop unfinished uploads."""
    return {
        "ID": RULE_ID, "Status": "Enabled", "Filter": {"Prefix": prefix},
        "Expiration": {"Days": days}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def broadcast_lifecycle_apply(*, days: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Put the rule on the default storage's bucket (its other rules kept); the rule.

    The prefix includes the storage's `location` (AWS_LOCATION), so a bucket shared by
    several deployments expires only this one's broadcasts.
    """
    from django.core.files.storage import storages
    from storages.utils import clean_name

    storage: Any = storages["default"]
    if not hasattr(type(storage), "bucket"):
        raise LifecycleUnsupported("the default storage is not an S3 bucket: delete media/broadcasts/ by hand")
    prefix = storage._normalize_name(clean_name("broadcasts")) + "/"
    rule = broadcast_lifecycle_rule(prefix=prefix, days=days or broadcast_keep_days())
    if dry_run:
        return rule
    client = storage.bucket.meta.client
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=storage.bucket.name).get("Rules", [])
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    rules = [existing for existing in rules if existing.get("ID") != RULE_ID] + [rule]
    client.put_bucket_lifecycle_configuration(Bucket=storage.bucket.name, LifecycleConfiguration={"Rules": rules})
    return rule
