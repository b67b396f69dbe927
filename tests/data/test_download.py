"""The downloader against a local threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from genrec_bench.data import download as dl
from genrec_bench.data.cards import Download, Variant
from genrec_bench.errors import DataError

PAYLOAD = bytes(range(256)) * 4000 + b"tail"  # ~1 MB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class Server:
    url: str
    files: dict[str, bytes]
    requests: list[dict[str, str]] = field(default_factory=list)
    honour_range: bool = True


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        state.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and state.honour_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            chunk = body[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            chunk = body
            self.send_response(200)
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        self.wfile.write(chunk)


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Server(url=f"http://127.0.0.1:{httpd.server_address[1]}",
                   files={"/data.bin": PAYLOAD})
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_full_download_with_checksum(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "data.bin"
    assert dl.download(server.url + "/data.bin", dest, PAYLOAD_SHA, chunk=4096) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "data.bin.part").exists()
    assert server.requests == [{"path": "/data.bin", "range": ""}]


def test_resume_asks_for_the_remaining_bytes(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    part = tmp_path / "data.bin.part"
    part.write_bytes(PAYLOAD[:123_457])
    dl.download(server.url + "/data.bin", dest, PAYLOAD_SHA)
    assert server.requests == [{"path": "/data.bin", "range": "bytes=123457-"}]
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_complete_part_file_is_finished(server: Server, tmp_path: Path) -> None:
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    dl.download(server.url + "/data.bin", tmp_path / "data.bin", PAYLOAD_SHA)
    assert server.requests[0]["range"] == f"bytes={len(PAYLOAD)}-"  # answered 416
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_server_without_range_support_restarts(server: Server, tmp_path: Path) -> None:
    server.honour_range = False
    part = tmp_path / "data.bin.part"
    part.write_bytes(b"garbage that must not stay in front")
    dl.download(server.url + "/data.bin", tmp_path / "data.bin", PAYLOAD_SHA)
    assert server.requests[0]["range"] == f"bytes={len(b'garbage that must not stay in front')}-"
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_stale_part_is_retried_once_from_scratch(server: Server, tmp_path: Path) -> None:
    (tmp_path / "data.bin.part").write_bytes(b"X" * 1000)  # bytes that are not the file's
    dl.download(server.url + "/data.bin", tmp_path / "data.bin", PAYLOAD_SHA)
    assert [r["range"] for r in server.requests] == ["bytes=1000-", ""]
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_removes_the_file(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    wrong = "0" * 64
    with pytest.raises(DataError) as info:
        dl.download(server.url + "/data.bin", dest, wrong)
    message = str(info.value)
    assert server.url + "/data.bin" in message and wrong in message and PAYLOAD_SHA in message
    assert not dest.exists() and not (tmp_path / "data.bin.part").exists()


def test_cached_file_is_not_downloaded_again(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    dl.download(server.url + "/data.bin", dest, PAYLOAD_SHA)
    dl.download(server.url + "/data.bin", dest, PAYLOAD_SHA)
    dl.download(server.url + "/data.bin", dest, None)  # no checksum known: existing file kept
    assert len(server.requests) == 1


def test_corrupt_cached_file_is_replaced(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"corrupt")
    dl.download(server.url + "/data.bin", dest, PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD and len(server.requests) == 1


def test_http_errors_are_data_errors(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"/missing\.bin: HTTP 404"):
        dl.download(server.url + "/missing.bin", tmp_path / "m.bin", None)
    with pytest.raises(DataError, match="expected an http"):
        dl.download("ftp://example.org/x", tmp_path / "x", None)
    with pytest.raises(DataError, match="cannot connect"):
        dl.download("http://127.0.0.1:9/x", tmp_path / "x", None, timeout=2)


def make_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in [("KuaiRand-Pure/data/log_standard_4_08_to_4_21_pure.csv", b"a,b\n"),
                           ("KuaiRand-Pure/data/log_random_4_22_to_5_08_pure.csv", b"c\n"),
                           ("KuaiRand-Pure/load_data_pure.py", b"print()\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_fetch_variant_downloads_and_extracts(server: Server, tmp_path: Path) -> None:
    archive = make_archive()
    server.files["/KuaiRand-Pure.tar.gz"] = archive
    variant = Variant(kind="raw", format="kuairand", files={"logs": "log_standard_*.csv"},
                      downloads=(Download(file="KuaiRand-Pure.tar.gz",
                                          url=server.url + "/KuaiRand-Pure.tar.gz",
                                          sha256=hashlib.sha256(archive).hexdigest(),
                                          extract=("*log_standard_*.csv",)),))
    folder = tmp_path / "kuairand-pure"
    paths = dl.fetch_variant(variant, folder, log=lambda _: None)
    assert [p.name for p in paths] == ["log_standard_4_08_to_4_21_pure.csv"]
    assert (folder / "log_standard_4_08_to_4_21_pure.csv").read_bytes() == b"a,b\n"
    assert not (folder / "log_random_4_22_to_5_08_pure.csv").exists()
    dl.fetch_variant(variant, folder, log=lambda _: None)  # cached: no new request
    assert len(server.requests) == 1


def test_cli_reports_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert dl.main(["no-such-dataset", "--data-root", str(tmp_path)]) == 2
    assert "unknown dataset 'no-such-dataset'" in capsys.readouterr().err
    assert dl.main(["douban-book", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no public download URL" in err and "douban_book_ratings.dat" in err
