"""``rnnkit datasets download NAME``: fetch the datasets rnnkit may not ship into the data
directory.

Multi30k and AESLC have licences that forbid shipping them inside the package (research and
non-commercial use), so :func:`rnnkit.data.parallel.read_parallel` reads them from the data
directory and this module fetches them, on the user's machine, from the upstream sources their
READMEs (``shared/data/*/README.md``) name:

* ``multi30k`` — ``data/task1/raw/{train,val}.{de,en}.gz`` of GitHub ``multi30k/dataset`` at
  commit ``a3d2e0d2``; each file is checked against the SHA-256 the README gives.
* ``aeslc`` — the GitHub archive of ``ryanzhumich/AESLC`` at commit ``7afc087a`` (one file per
  email: the body, then ``@subject`` and the subject, and in dev ``@ann0``..``@ann2``),
  converted to ``aeslc/{train,dev}.csv.gz`` exactly as the README describes (rows sorted by
  file name, trailing whitespace of the body and whitespace around each subject trimmed). The
  converted CSV text is checked against the SHA-256 of the copy rnnkit was tested with; the
  archive has no published checksum, so its SHA-256 is recorded.

Every file goes through a temporary file and a rename (:func:`rnnkit.core.files.
atomic_write_bytes`); an existing file with other content is never replaced without
``force``. The SHA-256 of each file written is recorded in ``NAME/SHA256SUMS`` (the
``sha256sum -c`` format).

A **mirror** (``base_url``, or the ``RNNKIT_DATA_URL`` environment variable) is a web folder
laid out like the data directory (``BASE/multi30k/train.de.gz``, ``BASE/aeslc/dev.csv.gz``):
the files are fetched from it as they are, with the same checksums. The tests serve
``shared/data`` on 127.0.0.1 as such a mirror.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnkit.core.files import atomic_write_bytes
from rnnkit.core.suggest import did_you_mean
from rnnkit.data.lm_corpus import DATA_ENV
from rnnkit.errors import RNNKitError

MIRROR_ENV = "RNNKIT_DATA_URL"
CHUNK = 1 << 16
TIMEOUT_S = 60

_MULTI30K = (
    "https://raw.githubusercontent.com/multi30k/dataset/"
    "a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"
)
#: The AESLC repository at the commit the shared copy was made from (GitHub's archive of it).
AESLC_ARCHIVE = (
    "https://github.com/ryanzhumich/AESLC/archive/7afc087a1cc234d07121f0d4a2d87102ddceabc2.tar.gz"
)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a download.

    Attributes:
        name: its path in the data directory, e.g. 'multi30k/train.de.gz'.
        url: where upstream serves it (None: it is made from an archive, see the module).
        sha256: the SHA-256 of the file's bytes, when known.
        content_sha256: the SHA-256 of its text after gunzipping, when known (a file made by
            conversion, whose gzip bytes carry a time stamp, is checked by this).
    """

    name: str
    url: str | None
    sha256: str | None = None
    content_sha256: str | None = None


#: The files of each download, with the checksums of the shared copies' READMEs.
DOWNLOADS: dict[str, tuple[RemoteFile, ...]] = {
    "multi30k": tuple(
        RemoteFile(f"multi30k/{name}", _MULTI30K + name, sha)
        for name, sha in (
            ("train.en.gz", "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"),
            ("train.de.gz", "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"),
            ("val.en.gz", "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"),
            ("val.de.gz", "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"),
        )
    ),
    "aeslc": (
        RemoteFile(
            "aeslc/train.csv.gz", None,
            "86a042dc9b852967c515241d2e88aea1e1ff1022d19ff39bdf1c475ff5e9d9f5",
            "8eaa8589b8558a80f70b9a7150b633f50b26d231896522796cf3fd567e67407d",
        ),
        RemoteFile(
            "aeslc/dev.csv.gz", None,
            "fe08ec28b7c2c51792850685c901d141585854e934c9851ac1a2ad6561affcfe",
            "6076b84f497ee5d3f177a2ddf66d1411b0ffa4dc72320f0f7180b7f7cb94cc7c",
        ),
    ),
}


class DownloadError(RNNKitError):
    """A download failed, did not match its checksum, or would replace a different file."""


def default_dir() -> Path:
    """Where downloads go without ``directory``: ``$RNNKIT_DATA``, else the user's cache
    (``$XDG_CACHE_HOME/rnnkit/data``, default ``~/.cache/rnnkit/data``), which the readers of
    bundled datasets also search."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "rnnkit" / "data"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str, label: str, progress: Callable[[str], None] | None) -> bytes:
    """The bytes at ``url``, read in chunks with a progress line."""
    try:
        # every URL is https upstream or an http(s) mirror checked by _check_url
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"downloading {label} from {url} failed: HTTP {err.code} "
                            f"{err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"downloading {label} from {url} failed: {reason}") from None
    with response:
        total = int(response.headers.get("Content-Length") or 0)
        buffer = io.BytesIO()
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                break
            buffer.write(chunk)
            if progress is not None:
                done = buffer.tell()
                size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB ({100 * done // total}%)" if (
                    total) else f"{done / 1e6:.1f} MB"
                progress(f"\r{label}: {size}")
        if progress is not None:
            progress("\n")
    data = buffer.getvalue()
    if total and len(data) != total:
        raise DownloadError(
            f"downloading {label} from {url} failed: expected {total} bytes, got {len(data)}"
        )
    return data


def _check_url(url: str, argument: str) -> str:
    if not re.match(r"^https?://", url):
        raise ValueError(f"{argument} must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def download(name: str, *, directory: str | os.PathLike[str] | None = None,
             base_url: str | None = None, force: bool = False,
             progress: Callable[[str], None] | None = None) -> list[Path]:
    """Fetch dataset ``name`` ('multi30k' or 'aeslc') into ``directory`` and check it.

    Args:
        name: a key of :data:`DOWNLOADS`.
        directory: the data directory (default :func:`default_dir`); the files go to
            ``directory/NAME/``.
        base_url: a mirror laid out like the data directory (default ``$RNNKIT_DATA_URL``;
            neither: the upstream sources).
        force: replace existing files whose content differs (they are never replaced silently).
        progress: called with progress text (``'\\r'``-updated lines); None: quiet.

    Returns:
        The paths of the dataset's files (written, or already there with the right content).

    Raises:
        ValueError: unknown name or a bad URL. DownloadError: a failed download, a checksum
            that does not match (nothing is written then), or a different existing file
            without ``force``.
    """
    if name not in DOWNLOADS:
        raise ValueError(
            f"dataset must be one of {sorted(DOWNLOADS)}, got {name!r}"
            f"{did_you_mean(name, DOWNLOADS)}"
        )
    root = Path(directory) if directory is not None else default_dir()
    mirror = base_url if base_url is not None else os.environ.get(MIRROR_ENV) or None
    if mirror is not None:
        mirror = _check_url(mirror, "base_url" if base_url is not None else MIRROR_ENV)
    files = DOWNLOADS[name]
    say = progress or (lambda _text: None)

    todo = [f for f in files if force or not _matches(root / f.name, f)]
    for f in todo:
        _refuse_different(root / f.name, f, force)
    if todo:
        if mirror is None and name == "aeslc":
            contents = _aeslc_from_archive(_fetch(AESLC_ARCHIVE, "AESLC archive", progress), say)
        else:
            contents = {}
            for f in todo:
                url = f"{mirror}/{f.name}" if mirror is not None else f.url
                assert url is not None  # every file without an upstream URL is converted above
                contents[f.name] = _fetch(url, f.name, progress)
        for f in todo:
            _verify(f, contents[f.name])
        for f in todo:  # every file checked before any is written
            atomic_write_bytes(root / f.name, contents[f.name])
            say(f"wrote {root / f.name}\n")
    sums = "".join(f"{sha256_hex((root / f.name).read_bytes())}  {Path(f.name).name}\n"
                   for f in files)
    atomic_write_bytes(root / name / "SHA256SUMS", sums.encode("ascii"))
    if not todo:
        say(f"{name}: all files already in {root / name} with the expected content\n")
    return [root / f.name for f in files]


def _content_sha(data: bytes) -> str | None:
    try:
        return sha256_hex(gzip.decompress(data))
    except (OSError, EOFError):
        return None


def _matches(path: Path, f: RemoteFile) -> bool:
    """Whether ``path`` exists with the expected content."""
    if not path.is_file():
        return False
    data = path.read_bytes()
    if f.sha256 is not None and sha256_hex(data) == f.sha256:
        return True
    return f.content_sha256 is not None and _content_sha(data) == f.content_sha256


def _refuse_different(path: Path, f: RemoteFile, force: bool) -> None:
    if path.exists() and not force:
        raise DownloadError(
            f"{path} exists with other content than the expected {f.name} (SHA-256 "
            f"{sha256_hex(path.read_bytes())}); it is left as it is. Move it away or pass "
            "--force (force=True) to replace it"
        )


def _verify(f: RemoteFile, data: bytes) -> None:
    got = sha256_hex(data)
    if f.sha256 is not None and got == f.sha256:
        return
    if f.content_sha256 is not None:
        content = _content_sha(data)
        if content == f.content_sha256:
            return
        raise DownloadError(
            f"{f.name}: the downloaded text does not match the expected SHA-256 "
            f"{f.content_sha256} (got {content}); nothing was written"
        )
    if f.sha256 is not None:
        raise DownloadError(
            f"{f.name}: the download does not match the expected SHA-256 {f.sha256} (got "
            f"{got}); nothing was written"
        )


# --------------------------------------------------------------------------------------------
# AESLC: one file per email in the upstream repository -> one CSV per split
# --------------------------------------------------------------------------------------------

_AESLC_MEMBER = re.compile(r"^[^/]+/enron_subject_line/(train|dev)/([^/]+)\.subject$")
_AESLC_COLUMNS = {"train": ("id", "email_body", "subject"),
                  "dev": ("id", "email_body", "subject", "ann0", "ann1", "ann2")}


def parse_aeslc_email(text: str) -> dict[str, str]:
    """The fields of one upstream AESLC file: ``email_body`` (trailing whitespace trimmed),
    ``subject`` and any ``ann0``..``ann2`` (whitespace around each trimmed).

    The file is the body, then a line ``@subject`` and the subject, then (dev and test) lines
    ``@ann0``, ``@ann1``, ``@ann2`` each followed by an annotator's subject.
    """
    parts = re.split(r"^@(subject|ann[0-9])[ \t]*$", text, flags=re.MULTILINE)
    fields = {"email_body": parts[0].rstrip()}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        fields[key] = value.strip()
    return fields


def _aeslc_from_archive(archive: bytes, say: Callable[[str], None]) -> dict[str, bytes]:
    """``aeslc/{train,dev}.csv.gz`` made from the repository archive (read in memory: nothing
    in the archive is extracted to disk)."""
    import csv

    rows: dict[str, list[dict[str, str]]] = {"train": [], "dev": []}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            match = _AESLC_MEMBER.match(member.name)
            if not member.isfile() or match is None:
                continue
            handle = tar.extractfile(member)
            assert handle is not None  # a regular file always has its bytes
            fields = parse_aeslc_email(handle.read().decode("utf-8"))
            rows[match.group(1)].append({"id": match.group(2), **fields})
    out = {}
    for split, found in rows.items():
        if not found:
            raise DownloadError(
                f"the AESLC archive holds no enron_subject_line/{split}/*.subject files; got an "
                "archive of another layout"
            )
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_AESLC_COLUMNS[split])
        for row in sorted(found, key=lambda r: r["id"]):
            writer.writerow([row.get(c, "") for c in _AESLC_COLUMNS[split]])
        out[f"aeslc/{split}.csv.gz"] = gzip.compress(buffer.getvalue().encode("utf-8"),
                                                    compresslevel=9, mtime=0)
        say(f"aeslc/{split}: {len(found)} emails converted\n")
    return out


def print_progress(text: str) -> None:
    """Progress on standard error (a ``'\\r'`` line that updates in place)."""
    sys.stderr.write(text)
    sys.stderr.flush()
