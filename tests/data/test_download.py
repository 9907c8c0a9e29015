"""The downloader, against a mirror on 127.0.0.1 serving shared/data (never the network)."""

import csv
import functools
import gzip
import hashlib
import http.server
import io
import shutil
import tarfile
import threading
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data import download as dl
from rnnkit.data.parallel import read_parallel

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not ((SHARED / "multi30k").is_dir() and (SHARED / "aeslc").is_dir()),
    reason=f"the shared data folder {SHARED} (multi30k, aeslc) is absent",
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean; requests are counted instead
        type(self).requests.append(self.path)


@pytest.fixture
def serve():
    """serve(folder) -> the base URL of an HTTP server on 127.0.0.1 serving that folder."""
    servers = []

    def start(folder: Path) -> str:
        handler = type("Handler", (_Quiet,), {"requests": []})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, handler))
        return f"http://127.0.0.1:{server.server_address[1]}"

    start.requests = lambda: [r for _, h in servers for r in h.requests]
    yield start
    for server, _ in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_upstream(monkeypatch):
    # Any fetch outside 127.0.0.1 would be a bug in the test: make it fail loudly.
    real = dl._fetch

    def local_only(url, label, progress):
        assert url.startswith("http://127.0.0.1:"), url
        return real(url, label, progress)

    monkeypatch.setattr(dl, "_fetch", local_only)
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)


def test_multi30k_from_a_mirror_is_checked_and_readable(tmp_path, serve, monkeypatch):
    base = serve(SHARED)
    shown = []
    paths = dl.download("multi30k", directory=tmp_path, base_url=base, progress=shown.append)
    assert [p.name for p in paths] == ["train.en.gz", "train.de.gz", "val.en.gz", "val.de.gz"]
    for p in paths:
        assert p.read_bytes() == (SHARED / "multi30k" / p.name).read_bytes()
    assert "\rmulti30k/train.en.gz: 0.6/0.6 MB (100%)" in "".join(shown)
    sums = (tmp_path / "multi30k" / "SHA256SUMS").read_text()
    assert ("d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f  train.en.gz\n"
            in sums)
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    assert len(read_parallel("multi30k-en-de").val) == 1014
    # a second run finds the files and fetches nothing
    before = len(serve.requests())
    shown.clear()
    dl.download("multi30k", directory=tmp_path, base_url=base, progress=shown.append)
    assert len(serve.requests()) == before
    assert "already in" in "".join(shown)


def test_a_different_existing_file_is_kept_without_force(tmp_path, serve):
    base = serve(SHARED)
    mine = tmp_path / "multi30k" / "val.de.gz"
    mine.parent.mkdir()
    mine.write_bytes(b"my own file")
    with pytest.raises(dl.DownloadError, match=r"val.de.gz exists with other content than the "
                                               r"expected multi30k/val.de.gz .* pass --force"):
        dl.download("multi30k", directory=tmp_path, base_url=base)
    assert mine.read_bytes() == b"my own file"
    assert not (tmp_path / "multi30k" / "train.en.gz").exists()
    dl.download("multi30k", directory=tmp_path, base_url=base, force=True)
    assert mine.read_bytes() == (SHARED / "multi30k" / "val.de.gz").read_bytes()


def test_a_checksum_mismatch_writes_nothing(tmp_path, serve):
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED / "multi30k", mirror / "multi30k", ignore=shutil.ignore_patterns("tok"))
    (mirror / "multi30k" / "val.en.gz").write_bytes(gzip.compress(b"tampered\n"))
    out = tmp_path / "out"
    with pytest.raises(dl.DownloadError, match=r"multi30k/val.en.gz: the download does not match "
                                               r"the expected SHA-256 14f7d25d.*nothing was "
                                               r"written"):
        dl.download("multi30k", directory=out, base_url=serve(mirror))
    assert not out.exists() or not list(out.rglob("*.gz"))


def test_aeslc_from_a_mirror(tmp_path, serve, monkeypatch):
    monkeypatch.setenv(dl.MIRROR_ENV, serve(SHARED))
    dl.download("aeslc", directory=tmp_path)
    assert (tmp_path / "aeslc" / "dev.csv.gz").read_bytes() == (
        SHARED / "aeslc" / "dev.csv.gz").read_bytes()


def _upstream_archive(folder: Path) -> bytes:
    """A repository archive in AESLC's upstream layout, rebuilt from the shared CSVs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split in ("train", "dev"):
            with gzip.open(folder / f"{split}.csv.gz", "rt", encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    text = f"{row['email_body']}\n\n@subject\n{row['subject']}\n"
                    for k in ("ann0", "ann1", "ann2"):
                        if k in row:
                            text += f"\n@{k}\n{row[k]}\n"
                    data = text.encode("utf-8")
                    info = tarfile.TarInfo(f"AESLC-7afc087/enron_subject_line/{split}/"
                                           f"{row['id']}.subject")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        readme = tarfile.TarInfo("AESLC-7afc087/README.md")
        readme.size = 2
        tar.addfile(readme, io.BytesIO(b"hi"))
    return buffer.getvalue()


def test_aeslc_converted_from_the_upstream_layout_matches_the_reference_text(tmp_path, serve,
                                                                            monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "aeslc.tar.gz").write_bytes(_upstream_archive(SHARED / "aeslc"))
    monkeypatch.setattr(dl, "AESLC_ARCHIVE", serve(site) + "/aeslc.tar.gz")
    shown = []
    out = tmp_path / "data"
    dl.download("aeslc", directory=out, progress=shown.append)
    assert "aeslc/train: 14436 emails converted" in "".join(shown)
    for split in ("train", "dev"):
        got = gzip.decompress((out / "aeslc" / f"{split}.csv.gz").read_bytes())
        assert got == gzip.decompress((SHARED / "aeslc" / f"{split}.csv.gz").read_bytes())
    # the recorded checksums are of the files as written
    sums = dict(line.split("  ")[::-1] for line in
                (out / "aeslc" / "SHA256SUMS").read_text().splitlines())
    assert sums["dev.csv.gz"] == hashlib.sha256(
        (out / "aeslc" / "dev.csv.gz").read_bytes()).hexdigest()


def test_parse_one_upstream_email():
    text = "Hi,\n\nsee you at 3.\n  \n@subject\n  Re: lunch \n\n@ann0\nlunch\n\n@ann1\nlunch at 3\n"
    assert dl.parse_aeslc_email(text) == {"email_body": "Hi,\n\nsee you at 3.",
                                          "subject": "Re: lunch", "ann0": "lunch",
                                          "ann1": "lunch at 3"}


def test_bad_names_and_urls(tmp_path, serve):
    with pytest.raises(ValueError, match=r"got 'multi30' \(did you mean 'multi30k'\?\)"):
        dl.download("multi30", directory=tmp_path)
    with pytest.raises(ValueError, match=r"base_url must be an http:// or https:// URL, got "
                                         r"'file:///etc'"):
        dl.download("multi30k", directory=tmp_path, base_url="file:///etc")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(dl.DownloadError, match=r"downloading multi30k/train.en.gz from "
                                               r"http://127.0.0.1:\d+/multi30k/train.en.gz failed: "
                                               r"HTTP 404"):
        dl.download("multi30k", directory=tmp_path / "out", base_url=serve(empty))


def test_the_command(tmp_path, serve, monkeypatch, capsys):
    monkeypatch.setenv(dl.MIRROR_ENV, serve(SHARED))
    assert main(["datasets", "download", "multi30k", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "multi30k" / "val.de.gz").is_file()
    assert "wrote" in capsys.readouterr().err
    (tmp_path / "multi30k" / "val.de.gz").write_bytes(b"x")
    assert main(["datasets", "download", "multi30k", "--dir", str(tmp_path)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["datasets", "download", "multi30k", "--dir", str(tmp_path), "--force"]) == 0
