"""Fetching MovieLens archives from GroupLens, only when asked.

:func:`download_movielens` downloads to ``<dest>/.<name>.zip.part`` (resuming it with an HTTP Range
request when a previous attempt was cut), checks the size and the SHA-256 of the whole archive,
extracts into a temporary folder next to the destination and renames that folder into place, so
``<dest>/<name>`` either does not exist or is complete. Nothing is imported or fetched at import.

Progress is reported per phase ("download", "verify", "extract") so that an app can show a bar
for the whole wait; ``$RECSYS_MOVIELENS_MIRROR`` (a base URL) fetches the same file names from a
mirror, still checked against the pinned checksums.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from ..errors import DownloadError
from .discovery import PROJECT_DATA_DIR


@dataclass(frozen=True)
class Archive:
    """Where a dataset archive lives and what it must hash to.

    Attributes
    ----------
    url : str
    sha256 : str or None
        Hex SHA-256 of the whole zip file, when a trustworthy published value is known.
    size : int or None
        Bytes, when known (a cheap first check).
    folder : str
        Top-level folder inside the zip.
    md5 : str or None
        Hex MD5 of the zip as GroupLens publishes it (``<name>.zip.md5``), checked when given.
        At least one of ``sha256`` and ``md5`` must be pinned, or the download is refused.
    """

    url: str
    sha256: str | None
    size: int | None
    folder: str
    md5: str | None = None


_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
#: The archives :func:`download_movielens` knows. SHA-256 and sizes as published by TensorFlow
#: Datasets (url_checksums/movielens.txt: ml-100k, ml-latest-small, ml-1m, ml-20m, ml-25m) and
#: pinned by several other projects; MD5 as GroupLens publishes beside each zip
#: (``ml-10m.zip.md5``, ``ml-32m.zip.md5``, ``ml-1m.zip.md5``), each value found in several
#: independent projects that check it. ml-10m and ml-32m have only GroupLens' MD5 pinned (no
#: SHA-256 from a source we could verify), with their sizes. ml-latest-small is the 2018-09
#: release; GroupLens says "latest" data may be republished, which would fail the check (the
#: error says so) rather than load unverified data. Its size is not pinned (only the hash).
MOVIELENS_ARCHIVES: dict[str, Archive] = {
    "ml-100k": Archive(_GROUPLENS + "ml-100k.zip",
                       "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                       4_924_029, "ml-100k"),
    "ml-latest-small": Archive(_GROUPLENS + "ml-latest-small.zip",
                               "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                               None, "ml-latest-small"),
    "ml-1m": Archive(_GROUPLENS + "ml-1m.zip",
                     "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                     5_917_549, "ml-1m", md5="c4d9eecfca2ab87c1945afe126590906"),
    "ml-10m": Archive(_GROUPLENS + "ml-10m.zip", None, 65_566_137, "ml-10M100K",
                      md5="ce571fd55effeba0271552578f2648bd"),
    "ml-20m": Archive(_GROUPLENS + "ml-20m.zip",
                      "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                      198_702_078, "ml-20m"),
    "ml-25m": Archive(_GROUPLENS + "ml-25m.zip",
                      "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
                      261_978_986, "ml-25m"),
    "ml-32m": Archive(_GROUPLENS + "ml-32m.zip", None, 238_950_008, "ml-32m",
                      md5="d472be332d4daa821edc399621853b57"),
}
_CHUNK = 1 << 16
_HASH_CHUNK = 1 << 20
#: Base URL serving the same archive names as GroupLens (a local or institutional mirror).
MIRROR_ENV = "RECSYS_MOVIELENS_MIRROR"

#: ``progress(done, total, phase)``: bytes done and expected (None when unknown) of the current
#: phase: "download" (bytes received, counting bytes kept from an interrupted attempt),
#: "verify" (bytes hashed) or "extract" (uncompressed bytes written).
Progress = Callable[[int, "int | None", str], None]


def download_movielens(name: str, dest: str | Path | None = None,
                       progress: Progress | None = None, *, retries: int = 2,
                       timeout: float = 30.0, backoff: float = 1.0,
                       archives: Mapping[str, Archive] | None = None) -> Path:
    """Download, verify and unpack a MovieLens dataset; return its folder ``<dest>/<name>``.

    Parameters
    ----------
    name : {"ml-100k", "ml-latest-small", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m"}
        ml-10m unpacks as ``ml-10M100K`` and is renamed ``<dest>/ml-10m``.
    dest : path, optional
        Parent folder (created if needed); by default the project's ``data/`` folder, where
        :func:`recsys_core.data.find_datasets` looks. An existing ``<dest>/<name>`` folder is
        returned as is: nothing saved is overwritten.
    progress : callable(done_bytes, total_bytes or None, phase), optional
        Called as bytes arrive (phase "download"; total from the server or the known size), as
        the archive is hashed ("verify") and as it is unpacked ("extract"; uncompressed bytes).
    retries : int
        Further attempts after a network failure; each resumes the partial file.
    timeout : float
        Seconds to wait for the server on each connection and read.
    backoff : float
        Seconds slept before the first retry, doubled after each.
    archives : mapping name -> Archive, optional
        The catalogue to download from (default :data:`MOVIELENS_ARCHIVES`); tests and private
        mirrors pass their own URLs and checksums. ``$RECSYS_MOVIELENS_MIRROR``, when set,
        replaces the directory of every archive URL (file name and checksums unchanged).

    Verification: the archive's SHA-256 and/or MD5 must match :data:`MOVIELENS_ARCHIVES` (an
    archive with neither pinned is refused before any byte is fetched), and the zip must
    pass its own CRC checks as it is extracted. A mismatch deletes the partial file; when the
    download had resumed bytes from an earlier attempt it starts once more from scratch, otherwise
    (or if that fails too) it raises :class:`~recsys_core.errors.DownloadError`, as do an unknown
    name, no network, and HTTP errors.
    """
    archives = MOVIELENS_ARCHIVES if archives is None else archives
    if name not in archives:
        raise DownloadError(f"unknown dataset {name!r}; choose one of "
                            f"{', '.join(sorted(archives))}")
    archive = _mirrored(archives[name])
    if not (archive.sha256 or archive.md5):
        raise DownloadError(f"{name}: checksum not pinned in recsys_core.data.download."
                            "MOVIELENS_ARCHIVES; refusing to download unverifiable data (download "
                            f"{archive.url} by hand, check it, and unzip it into the data folder)")
    dest = PROJECT_DATA_DIR if dest is None else Path(dest)
    target = dest / name
    if target.exists():
        return target
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {_shown(dest)}: {exc.strerror or exc}") from None
    part = dest / f".{name}.zip.part"

    resumed = part.exists()
    _fetch_with_retries(archive, part, dest, name, progress, retries, timeout, backoff)
    try:
        _verify(part, archive, name, progress)
    except DownloadError:
        if not resumed:
            raise
        # The bytes kept from an earlier attempt may be what is wrong: start once from scratch.
        _fetch_with_retries(archive, part, dest, name, progress, retries, timeout, backoff)
        _verify(part, archive, name, progress)
    _extract(part, archive.folder, target, progress)
    part.unlink()
    return target


def _mirrored(archive: Archive) -> Archive:
    """``archive`` fetched from ``$RECSYS_MOVIELENS_MIRROR`` when that is set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return archive
    return dataclasses.replace(archive,
                               url=mirror.rstrip("/") + "/" + archive.url.rsplit("/", 1)[-1])


def _fetch_with_retries(archive: Archive, part: Path, dest: Path, name: str,
                        progress: Progress | None, retries: int, timeout: float, backoff: float):
    for attempt in range(retries + 1):
        try:
            _fetch(archive.url, part, archive.size, progress, timeout)
            return
        except _Retryable as exc:
            if attempt == retries:
                raise DownloadError(
                    f"could not download {name}: {exc}. Download {archive.url} on a computer "
                    f"that has the internet and unzip it into {_shown(dest)}/ (the app finds "
                    f"{name}/ there), or point RECSYS_DATA_DIR at a folder holding "
                    f"{name}/") from None
            time.sleep(backoff * 2**attempt)


class _Retryable(Exception):
    """A network failure worth another attempt (the partial file is kept for resuming)."""


def _shown(folder: Path) -> str:
    """A folder as a message shows it: relative to the working directory when inside it (the
    app's ``data``), else in full."""
    try:
        return str(Path(folder).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(folder)


def network_failure(exc: BaseException, url: str = "", timeout: float | None = None) -> str:
    """A failed connection in words, without an errno: "no internet connection (...)", "the
    server refused the connection", ..."""
    reason = getattr(exc, "reason", exc)  # URLError wraps the socket's error
    host = urllib.parse.urlsplit(url).hostname or "the server"
    if isinstance(reason, socket.gaierror):
        return f"no internet connection (the address of {host} could not be looked up)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        wait = f" within {timeout:g} s" if timeout else ""
        return f"no answer from {host}{wait} (no internet connection, or the server is down)"
    if isinstance(reason, ConnectionRefusedError):
        return f"{host} refused the connection (no server is listening there)"
    if isinstance(reason, ConnectionResetError):
        return "the connection was cut by the other side"
    if isinstance(reason, OSError) and reason.strerror:  # other socket errors: their words
        return f"the connection failed ({reason.strerror.lower()})"
    if isinstance(reason, OSError) and not reason.args:
        return "the connection failed"
    return f"the connection failed ({reason})"


def _fetch(url: str, part: Path, size: int | None, progress: Progress | None, timeout: float):
    """Append the rest of ``url`` to ``part`` (Range request when it already holds bytes)."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:  # cannot be a prefix of the archive
        part.unlink()
        have = 0
    if size is not None and have == size:
        if progress:
            progress(have, size, "download")
        return
    request = urllib.request.Request(url, headers={"User-Agent": "recsys-studio"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the file is complete, verify it
            return
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Retryable(network_failure(exc, url, timeout)) from None
    with response:
        if have and response.status != 206:  # the server ignored the Range header: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        done = have
        if progress:
            progress(done, total, "download")
        try:
            with open(part, "ab" if have else "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total, "download")
        except (OSError, socket.timeout, urllib.error.URLError, http.client.HTTPException) as exc:
            raise _Retryable(f"the connection was lost after {done / 1e6:,.1f} MB "
                             f"({network_failure(exc, url, timeout)})") from None
    if total is not None and done < total:
        raise _Retryable(f"the server closed the connection after {done / 1e6:,.1f} of "
                         f"{total / 1e6:,.1f} MB")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _digests(path: Path, progress: Progress | None = None) -> tuple[str, str]:
    """Hex (SHA-256, MD5) of a file, in one read; ``progress(done, size, "verify")`` per MB."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size, done = path.stat().st_size, 0
    if progress:
        progress(0, size, "verify")
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, size, "verify")
    return sha.hexdigest(), md5.hexdigest()


def _verify(part: Path, archive: Archive, name: str, progress: Progress | None = None):
    actual_size = part.stat().st_size
    sha, md5 = _digests(part, progress)
    wrong = [f"{algo} {got}, expected {want}"
             for algo, got, want in (("SHA-256", sha, archive.sha256), ("MD5", md5, archive.md5))
             if want is not None and got != want.lower()]
    if wrong:
        part.unlink()
        size_note = (f", {actual_size} bytes instead of {archive.size}"
                     if archive.size is not None and actual_size != archive.size else "")
        raise DownloadError(
            f"{name}: checksum mismatch ({'; '.join(wrong)}"
            f"{size_note}); the partial download was deleted. A corrupted transfer or proxy page "
            f"usually explains it; if GroupLens republished the archive, update "
            f"recsys_core.data.download.MOVIELENS_ARCHIVES")
    try:  # the members' CRCs are checked as they are extracted (one decompression, not two)
        with zipfile.ZipFile(part):
            pass
    except zipfile.BadZipFile as exc:
        part.unlink()
        raise DownloadError(f"{name}: not a valid zip archive ({exc})") from None


def _extract(part: Path, folder: str, target: Path, progress: Progress | None = None):
    """Unzip into a temporary folder beside ``target``, then rename ``folder`` into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(part) as zf:
            for member in zf.namelist():
                resolved = (tmp / member).resolve()
                if not resolved.is_relative_to(tmp.resolve()):
                    raise DownloadError(f"archive member {member!r} would be written outside "
                                        "the destination")
            members = zf.infolist()
            total, done = sum(m.file_size for m in members), 0
            if progress:
                progress(0, total, "extract")
            for member in members:
                try:
                    zf.extract(member, tmp)
                except zipfile.BadZipFile as exc:  # zipfile checks each member's CRC-32
                    part.unlink()
                    raise DownloadError(f"{target.name}: member {member.filename} of the archive "
                                        f"is damaged ({exc}); the download was deleted") from None
                done += member.file_size
                if progress:
                    progress(done, total, "extract")
        extracted = tmp / folder
        if not extracted.is_dir():
            raise DownloadError(f"the archive has no top-level folder {folder}/")
        try:
            os.rename(extracted, target)
        except OSError as exc:
            if target.exists():  # another process finished first; keep theirs
                return
            raise DownloadError(f"cannot move the dataset into {_shown(target)}: "
                                f"{exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
