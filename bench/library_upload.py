"""Library benchmark: server memory while a 1 GB video arrives as a resumable chunked upload.

    .venv/bin/python bench/library_upload.py                 # 1024 MB in the server's chunk size
    .venv/bin/python bench/library_upload.py --size-mb 256 --chunk-mb 8

A real daphne subprocess on 127.0.0.1 (throw-away SQLite database, media and temporary
folder under one temporary directory, removed at the end) serves the platform. The
client logs in as a faculty member (hoffmann), starts an upload at
/api/library/uploads, sends the file in pieces (a 1-second WebM followed by zero
bytes, generated on the fly: no 1 GB file on the client side), interrupts one piece
halfway (the connection is closed mid-body) and resumes from what the server says it
has, then finalizes: the server inspects the assembled file and makes the material.
The server's peak resident memory (VmHWM in /proc) is read before and after, and its
RSS sampled during the upload. Bounded: every request has a timeout; the server is
stopped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Source:
    """The file's bytes at any offset, generated (a real WebM head, then zeros)."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size = head, size

    def read(self, offset: int, length: int) -> bytes:
        end = min(self.size, offset + length)
        if offset >= len(self.head):
            return bytes(end - offset)
        part = self.head[offset:end]
        return part + bytes(end - offset - len(part))

    def sha256(self, chunk: int) -> str:
        digest = hashlib.sha256()
        for offset in range(0, self.size, chunk):
            digest.update(self.read(offset, chunk))
        return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--chunk-mb", type=int, default=0, help="0: the size the server suggests (4 MB)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    work = Path(tempfile.mkdtemp(prefix="bench-library-upload-"))
    server = None
    try:
        db_url = f"sqlite:///{work}/bench.sqlite3"
        env = {**os.environ, "DATABASE_URL": db_url, "MEDIA_ROOT": str(work / "media"), "DEBUG": "1",
               "DJANGO_SETTINGS_MODULE": "server.settings.test", "LOG_LEVEL": "WARNING", "TMPDIR": str(work)}
        for name in ("AWS_STORAGE_BUCKET_NAME", "REDIS_URL"):
            env.pop(name, None)
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
        cookie = subprocess.run(
            [python, "-c", (
                "import django;django.setup();from server.people.demo import seed_people;seed_people();"
                "from tests.browser_support import session_cookie_for;from server.people.models import User;"
                "print(session_cookie_for(User.objects.get(username='hoffmann')))")],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300,
        ).stdout.strip().splitlines()[-1]
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "MEDIA_ROOT", "DJANGO_SETTINGS_MODULE")})
        import django

        django.setup()  # this process only generates the file's head
        from courses.library.demo import video_bytes

        port = free_port()
        server = subprocess.Popen(
            [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "server.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "daphne.log", "wb"),
        )
        deadline = time.monotonic() + 30
        page = ""
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/library/contribute/", headers={"Cookie": f"sessionid={cookie}"})
                page = conn.getresponse().read().decode()
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise SystemExit("daphne did not start")
        csrf = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        school = re.search(r'<option value="(\d+)" selected>', page)
        headers = {"Cookie": f"sessionid={cookie}; csrftoken={csrf}", "X-CSRFToken": csrf,
                   "Referer": f"http://127.0.0.1:{port}/library/contribute/"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def call(method: str, path: str, body: bytes | str | None = None, content_type: str = "application/json"):
            conn.request(method, path, body=body, headers={**headers, "Content-Type": content_type})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")

        size = args.size_mb * MB
        source = Source(video_bytes(seconds=1.0), size)
        status, session = call("POST", "/api/library/uploads", json.dumps({"name": "big.webm", "size": size, "kind": "video"}))
        assert status == 201, (status, session)
        chunk = args.chunk_mb * MB or session["chunk_size"]
        upload = f"/api/library/uploads/{session['id']}"
        before_hwm, before_rss = status_kb(server.pid, "VmHWM"), status_kb(server.pid, "VmRSS")
        peak_rss = before_rss
        started = time.perf_counter()
        offset, requests, interrupted = 0, 0, False
        while offset < size:
            piece = source.read(offset, chunk)
            if not interrupted and offset >= size // 2:
                # A dropped connection: half a piece is sent, then the socket closes.
                raw = socket.create_connection(("127.0.0.1", port), timeout=30)
                head = (f"PUT {upload}/chunks?offset={offset} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Content-Type: application/octet-stream\r\nContent-Length: {len(piece)}\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
                raw.sendall(head + piece[: len(piece) // 2])
                raw.close()
                interrupted = True
                time.sleep(0.5)
                status, state = call("GET", upload)
                print(f"[upload] interrupted a piece at {offset / MB:.0f} MB; server has {state['received'] / MB:.0f} MB, resuming")
                offset = state["received"]
                continue
            status, state = call("PUT", f"{upload}/chunks?offset={offset}", piece, "application/octet-stream")
            requests += 1
            if status != 200:
                raise SystemExit(f"piece at {offset} refused: {status} {state}")
            offset = state["received"]
            if requests % 16 == 0:
                peak_rss = max(peak_rss, status_kb(server.pid, "VmRSS"))
        sent = time.perf_counter() - started
        status, created = call("POST", f"{upload}/finalize", json.dumps({
            "title": "Bench upload", "licence": "cc-by", "scope": "school",
            "institution_id": int(school.group(1)) if school else None,
        }))
        total = time.perf_counter() - started
        after_hwm = status_kb(server.pid, "VmHWM")
        stored = [f for f in (work / "media").rglob("*") if f.is_file() and f.stat().st_size > MB] if (work / "media").exists() else []
        print(f"[upload] {args.size_mb} MB in {requests} pieces of {chunk // MB} MB: sent in {sent:.1f} s "
              f"({args.size_mb / sent:.0f} MB/s), finalized in {total - sent:.1f} s -> HTTP {status} {created}")
        if stored:
            digest = hashlib.sha256()
            with open(stored[0], "rb") as handle:
                while block := handle.read(8 * MB):
                    digest.update(block)
            same = digest.hexdigest() == source.sha256(8 * MB)
            print(f"[upload] stored file {stored[0].stat().st_size / MB:.0f} MB, identical to the source: {same}")
        print(f"[upload] server peak RSS (VmHWM) before {before_hwm / 1024:.0f} MB, after {after_hwm / 1024:.0f} MB: "
              f"growth {(after_hwm - before_hwm) / 1024:.1f} MB (RSS sampled during upload: max {peak_rss / 1024:.0f} MB)")
        leftovers = list((work / "openrounds-uploads").glob("*")) if (work / "openrounds-uploads").exists() else []
        print(f"[upload] temporary upload files left: {len(leftovers)}")
        if status != 201:
            print("[upload] server log tail:\n" + (work / "daphne.log").read_text()[-2000:])
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
