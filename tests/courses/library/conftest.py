"""Fixtures of the library tests: real files of every kind, and storage on disk or S3."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator

import pytest
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.functional import empty
from PIL import Image

from courses.library.minimal_pdf import pdf_document
from tests.conftest import need_component, port_open

S3_ENDPOINT = os.environ.get("AWS_S3_ENDPOINT_URL") or "http://127.0.0.1:9123"
S3_BUCKET = os.environ.get("AWS_STORAGE_BUCKET_NAME") or "openrounds-test"


def _reset_storages() -> None:
    storages._backends = None
    storages._storages = {}
    default_storage._wrapped = empty


def s3_options() -> dict:
    return {
        "bucket_name": S3_BUCKET,
        "location": os.environ.get("AWS_LOCATION", ""),
        "endpoint_url": S3_ENDPOINT,
        "region_name": "us-east-1",
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or "testing",
        "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 120,
        "file_overwrite": False,
        "addressing_style": "path",
    }


def s3_bucket_ensure() -> None:
    import boto3

    options = s3_options()
    client = boto3.client(
        "s3", endpoint_url=options["endpoint_url"], region_name="us-east-1",
        aws_access_key_id=options["access_key"], aws_secret_access_key=options["secret_key"],
    )
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if S3_BUCKET not in names:
        client.create_bucket(Bucket=S3_BUCKET)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.realservices)])
def library_storage(request, settings, tmp_path) -> Iterator[str]:
    """Run the test once on local files and once on the real S3 server (moto on :9123)."""
    if request.param == "local":
        backend = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        }
    else:
        need_component("S3 server on 127.0.0.1:9123", port_open("127.0.0.1", 9123))
        s3_bucket_ensure()
        backend = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options()}
    # Through pytest-django's `settings` (not a nested override_settings): a test that then
    # changes another setting unwinds in the right order instead of leaking this storage
    # into the tests that follow.
    settings.STORAGES = {**settings.STORAGES, "default": backend}
    _reset_storages()
    yield request.param
    _reset_storages()


@pytest.fixture
def local_storage(settings, tmp_path) -> Iterator[str]:
    """Local files only (for tests about the local streaming path)."""
    backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
    }
    settings.STORAGES = {**settings.STORAGES, "default": backend}
    _reset_storages()
    yield "local"
    _reset_storages()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def photo_with_gps(orientation: int = 6) -> bytes:
    """A JPEG like a phone's: EXIF with GPS position, camera make, an orientation, and XMP."""
    image = Image.new("RGB", (64, 32), "red")
    image.paste((0, 0, 255), (0, 0, 16, 32))  # a blue band on the left, to check rotation
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90° clockwise to display
    gps = {1: "N", 2: (6.0, 27.0, 0.0), 3: "E", 4: (3.0, 23.0, 0.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    image.save(out, format="JPEG", exif=exif, xmp=xmp, quality=90)
    return out.getvalue()


def png_bytes(size=(40, 30), color="green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def sample_pdf(title: str = "Heart failure lecture notes") -> bytes:
    return pdf_document(title, ["Dyspnoea, orthopnoea and ankle oedema.", "Management in low-resource settings."])


def pptx_bytes(extra: dict[str, bytes] | None = None, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        archive.writestr("ppt/presentation.xml", "<p:presentation/>")
        archive.writestr("ppt/slides/slide1.xml", "<p:sld/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def webm_bytes(seconds: float = 1.0) -> bytes:
    from courses.library.demo import video_bytes

    return video_bytes(seconds=seconds, label="test")
