"""selfieseg.data.download against a local HTTP server: good, resumed, corrupt, offline."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import time
import zipfile

import numpy as np
import pytest
from conftest import portrait_like
from PIL import Image

from selfieseg.data import hub as dl
from selfieseg.data import open_dataset
from selfieseg.errors import DownloadError


def _picsart_zip() -> bytes:
    """A real zip in PicsArt's published layout, wrapped in a top folder like a GitHub archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for n in range(1, 4):
            image, mask = portrait_like(seed=n)
            for folder, array, fmt in (("train", image, "JPEG"), ("train_mask", mask * 255, "PNG")):
                encoded = io.BytesIO()
                Image.fromarray(array).save(encoded, format=fmt)
                bundle.writestr(f"picsart-contest-bcff785/data/{folder}/{n}.{'jpg' if fmt == 'JPEG' else 'png'}", encoded.getvalue())
    return buffer.getvalue()


class _Server:
    """Serves one payload with HTTP Range support; can drop the first connection midway."""

    def __init__(self, payload: bytes, cut_first_at: int | None = None, honour_range: bool = True):
        self.payload, self.cut, self.honour_range, self.requests = payload, cut_first_at, honour_range, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.headers.get("Range"))
                body, status, start = server.payload, 200, 0
                range_header = self.headers.get("Range")
                if range_header and server.honour_range:
                    start = int(range_header.split("=")[1].split("-")[0])
                    body, status = server.payload[start:], 206
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                self.end_headers()
                if server.cut is not None:
                    cut, server.cut = server.cut, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/picsart.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def payload():
    return _picsart_zip()


def test_good_download_verifies_extracts_and_reads(tmp_path, payload):
    server = _Server(payload)
    try:
        digest = hashlib.sha256(payload).hexdigest()
        path = dl.download("picsart", root=tmp_path, url=server.url, sha256=digest, quiet=True)
    finally:
        server.close()
    assert path == tmp_path / "picsart"
    reader = open_dataset("picsart", root=tmp_path)
    assert len(reader) == 3 and np.array_equal(reader[0].mask, portrait_like(seed=1)[1])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".picsart")]
    assert leftovers == []


def test_interrupted_download_resumes_with_a_range_request(tmp_path, payload):
    server = _Server(payload, cut_first_at=len(payload) // 3)
    try:
        with pytest.raises(DownloadError, match="run again to resume"):
            dl.download("picsart", root=tmp_path, url=server.url, quiet=True)
        part = tmp_path / ".downloads" / "picsart.zip.part"
        assert part.stat().st_size == len(payload) // 3
        assert not (tmp_path / "picsart").exists()
        dl.download("picsart", root=tmp_path, url=server.url, sha256=hashlib.sha256(payload).hexdigest(), quiet=True)
    finally:
        server.close()
    assert server.requests == [None, f"bytes={len(payload) // 3}-"]
    assert len(open_dataset("picsart", root=tmp_path)) == 3


def test_corrupt_download_is_rejected_and_leaves_nothing(tmp_path, payload):
    server = _Server(payload[:-10] + b"0123456789")
    try:
        with pytest.raises(DownloadError, match="does not match"):
            dl.download("picsart", root=tmp_path, url=server.url, sha256=hashlib.sha256(payload).hexdigest(), quiet=True)
    finally:
        server.close()
    assert not (tmp_path / "picsart").exists()
    assert list((tmp_path / ".downloads").iterdir()) == []


def test_unpinned_download_prints_its_hash(tmp_path, payload, capsys):
    server = _Server(payload)
    try:
        dl.download("picsart", root=tmp_path, url=server.url)
    finally:
        server.close()
    assert hashlib.sha256(payload).hexdigest() in capsys.readouterr().out


def test_offline_fails_at_once_with_url_and_manual_instructions(tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        dl.download("picsart", root=tmp_path, url="http://127.0.0.1:9/picsart.zip", quiet=True, timeout=5)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "http://127.0.0.1:9/picsart.zip" in message and "by hand" in message
    assert str(tmp_path / "picsart") in message


def test_manual_only_datasets_say_where_to_get_them(tmp_path):
    with pytest.raises(DownloadError, match="no direct download link") as info:
        dl.download("aisegment", root=tmp_path)
    assert "kaggle" in str(info.value).lower() and "clip_img" in str(info.value)


def test_manifest_covers_every_reader_with_licence_and_citation():
    from selfieseg.data import READERS

    manifest = dl.load_manifest()
    assert set(READERS) <= set(manifest)
    for name, entry in manifest.items():
        for key in ("title", "licence", "citation", "layout", "homepage"):
            assert entry.get(key), f"{name} lacks {key}"
        assert entry["url"] is None or entry["url"].startswith("http")
    json.dumps(manifest)
