"""Download helpers: stream, resume, verify, extract, and move into place atomically.

The manifest (``datasets.json`` beside this file) lists every seed dataset with its
URL, size, sha256 where known, licence, citation and layout. A download is written to
``<root>/.downloads/<file>.part``, resumed with an HTTP Range request after an
interruption, checked against its sha256, extracted into a temporary folder and only
then renamed to ``<root>/<name>``: an interrupted or corrupt download never leaves a
half-written dataset behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from functools import lru_cache
from pathlib import Path

from selfieseg.errors import DownloadError

MANIFEST = Path(__file__).with_name("datasets.json")
CHUNK = 1 << 16


@lru_cache(maxsize=1)
def load_manifest() -> dict:
    """The dataset manifest: name -> {url, size, sha256, licence, citation, layout, ...}."""
    return json.loads(MANIFEST.read_text())


def sha256sum(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _manual_hint(name: str, entry: dict, target: Path) -> str:
    where = entry.get("url") or entry.get("homepage") or "the dataset's homepage"
    return (
        f"Download it by hand from {where} and unpack it so that {target} holds: "
        f"{entry.get('layout', 'the published layout')}"
    )


def _fetch(url: str, part: Path, expected_size: int | None, quiet: bool, timeout: float) -> None:
    """Stream ``url`` into ``part``, resuming from its current length when the server allows."""
    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    if expected_size and offset == expected_size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "selfieseg"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # already complete
            return
        raise
    with response:
        if offset and response.status != 206:
            offset = 0  # server ignored the Range header: start again
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else expected_size
        mode = "ab" if offset else "wb"
        with open(part, mode) as handle, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=part.name[:-5], disable=quiet
        ) as bar:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                handle.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size < total:
        raise DownloadError(f"{url}: connection closed after {size} of {total} bytes; run again to resume.")


def _extract(archive: Path, destination: Path) -> None:
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    resolved = (destination / member).resolve()
                    if not str(resolved).startswith(str(destination.resolve())):
                        raise DownloadError(f"{archive}: unsafe path {member!r} in archive.")
                bundle.extractall(destination)
        elif any(name.endswith(s) for s in (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            with tarfile.open(archive) as bundle:
                bundle.extractall(destination, filter="data")
        else:
            shutil.copy2(archive, destination / archive.name)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DownloadError(f"{archive}: archive is corrupt ({exc}). Delete it and download again.") from None


def download(
    name: str,
    root=None,
    url: str | None = None,
    sha256: str | None = None,
    force: bool = False,
    quiet: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Download dataset ``name`` from the manifest into ``<root>/<name>`` and return that folder.

    ``url``/``sha256`` override the manifest (a mirror, or a file you host). Where the
    manifest has no sha256 the computed hash is printed so it can be pinned. Returns at
    once if the folder already exists (``force=True`` downloads again).
    """
    from selfieseg.data import data_root

    manifest = load_manifest()
    if name not in manifest:
        raise DownloadError(f"unknown dataset {name!r}; choose one of {sorted(manifest)}.")
    entry = dict(manifest[name])
    if url is not None:
        entry["url"], entry["sha256"], entry["size"] = url, sha256, None
        entry["filename"] = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or f"{name}.download"
    elif sha256 is not None:
        entry["sha256"] = sha256
    base = data_root(root)
    target = base / name
    if target.exists() and not force:
        return target
    if not entry.get("url"):
        raise DownloadError(
            f"{name}: no direct download link is published ({entry.get('access', 'registration required')}). "
            + _manual_hint(name, entry, target)
        )
    base.mkdir(parents=True, exist_ok=True)
    cache = base / ".downloads"
    cache.mkdir(exist_ok=True)
    archive = cache / entry["filename"]
    part = archive.with_name(archive.name + ".part")
    if force and archive.exists():
        archive.unlink()

    if not archive.exists():
        try:
            if "drive.google.com" in entry["url"]:
                import gdown

                result = gdown.download(entry["url"], str(part), quiet=quiet, resume=True, fuzzy=True)
                if result is None:
                    raise DownloadError(f"{entry['url']}: Google Drive refused the download. " + _manual_hint(name, entry, target))
            else:
                _fetch(entry["url"], part, entry.get("size"), quiet, timeout)
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"{entry['url']}: download failed ({reason}). Are you offline? "
                "Run again to resume. " + _manual_hint(name, entry, target)
            ) from None
        digest = sha256sum(part)
        if entry.get("sha256"):
            if digest != entry["sha256"]:
                part.unlink()
                raise DownloadError(
                    f"{entry['url']}: sha256 {digest} does not match the manifest's {entry['sha256']}; "
                    "the corrupt file was deleted. Run again, or check the URL."
                )
        elif not quiet:
            print(f"{entry['filename']}: sha256 {digest} (add it to the manifest to pin it)")
        part.replace(archive)

    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=base))
    try:
        _extract(archive, staging)
        inner = staging
        if entry.get("subdir"):  # may hold a glob, e.g. "*/data" inside a GitHub archive
            matches = sorted(p for p in staging.glob(entry["subdir"]) if p.is_dir())
            inner = matches[0] if matches else staging / entry["subdir"]
        if not inner.is_dir():
            raise DownloadError(f"{archive}: archive has no folder {entry['subdir']!r}. " + _manual_hint(name, entry, target))
        contents = list(inner.iterdir())
        if not entry.get("subdir") and len(contents) == 1 and contents[0].is_dir():
            inner = contents[0]  # archives that wrap everything in one top folder
        if target.exists():
            shutil.rmtree(target)
        inner.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
