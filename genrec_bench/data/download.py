"""Download a dataset's public raw files: resumable, checksum-verified, cached.

    python -m genrec_bench.data.download NAME [--data-root DIR] [--variant raw|preprocessed]

puts the files of ``NAME``'s card into ``<DIR>/<card folder>/`` (default ``DIR``: ``$GENREC_DATA``
when set, the folder every runner and table reads; else ``datasets/cache`` in the repository).
Then load with ``--data-root DIR`` (or ``GENREC_DATA=DIR``).

``download`` writes into ``<dest>.part``, resumes a partial ``.part`` with an HTTP ``Range``
request (a server answering 200 instead of 206 restarts from the beginning), verifies the
SHA-256 when one is known (a mismatch deletes the file and raises a DataError), and renames
the finished file into place atomically. A ``dest`` that exists with the right checksum is
the cache: it is not downloaded again.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import re
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from genrec_bench.data.cards import Download, Variant
from genrec_bench.data.checksums import sha256_file
from genrec_bench.errors import DataError, GenRecError

USER_AGENT = "genrec-bench-downloader/0.1"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) only, checked)


def _fetch(url: str, part: Path, chunk: int, timeout: float) -> bool:
    """Fill ``part`` with the whole content of ``url``, resuming what is already there.

    Returns True when existing bytes of ``part`` were kept (a resume).
    """
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # range not satisfiable: .part may be complete
            return True
        raise DataError(url, f"HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        raise DataError(url, f"cannot connect: {getattr(error, 'reason', error)}") from error
    with response:
        status = getattr(response, "status", 200)
        resume = False
        if offset and status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                response.close()
                part.unlink()  # a range we did not ask for: start again from byte 0
                return _fetch(url, part, chunk, timeout)
            resume = True
        try:
            with part.open("ab" if resume else "wb") as out:
                while block := response.read(chunk):
                    out.write(block)
        except (urllib.error.URLError, OSError) as error:
            raise DataError(url, f"download interrupted ({error}); run again to resume from "
                                 f"{part}") from error
    return resume


def _sha256_of(path: Path, chunk: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str | None, *, chunk: int = 1 << 20,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` (see the module docstring) and return ``dest``.

    Args:
        url: an ``http://`` or ``https://`` address.
        dest: the final file path; its folder is created.
        sha256: expected hex digest, or None / ``""`` when unknown (nothing is verified).
        chunk: bytes per read.
        timeout: seconds before a stalled connection fails.

    Raises:
        DataError: bad URL, HTTP or network error, or checksum mismatch (naming the URL,
            the expected and the actual digest; the bad file is removed).
    """
    if not url.startswith(("http://", "https://")):
        raise DataError(url, "expected an http:// or https:// URL")
    dest = Path(dest)
    want = (sha256 or "").lower()
    if dest.is_file() and (not want or sha256_file(dest) == want):
        return dest  # the cache
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    resumed = _fetch(url, part, chunk, timeout)
    if want:
        actual = _sha256_of(part, chunk)
        if actual != want and resumed:  # the kept bytes may be stale: one clean retry
            part.unlink(missing_ok=True)
            _fetch(url, part, chunk, timeout)
            actual = _sha256_of(part, chunk)
        if actual != want:
            part.unlink(missing_ok=True)
            raise DataError(url, f"SHA-256 mismatch: expected {want}, got {actual}; the "
                                 f"downloaded file was removed")
    os.replace(part, dest)
    return dest


def _safe_members(archive: Path, patterns: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(member name, flattened file name)`` of the archive members matching ``patterns``."""
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            names = [m.name for m in tar.getmembers() if m.isfile()]
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    else:
        raise DataError(archive, "expected a tar or zip archive to extract from")
    return [(n, Path(n).name) for n in names
            if any(fnmatch.fnmatch(n, p) for p in patterns) and Path(n).name not in ("", ".", "..")]


def extract(archive: Path, patterns: tuple[str, ...], folder: Path) -> list[Path]:
    """Unpack the members of ``archive`` matching ``patterns`` into ``folder`` (flattened,
    so no member can write outside it); existing files are kept."""
    out = []
    members = _safe_members(archive, patterns)
    if not members:
        raise DataError(archive, f"no member matches {', '.join(patterns)}")
    is_tar = tarfile.is_tarfile(archive)
    for name, flat in members:
        target = folder / flat
        out.append(target)
        if target.exists():
            continue
        tmp = target.with_name(target.name + ".part")
        if is_tar:
            with tarfile.open(archive) as tar:
                source = tar.extractfile(name)
                if source is None:
                    raise DataError(archive, f"cannot read member {name!r}")
                with source, tmp.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        else:
            with zipfile.ZipFile(archive) as zf, zf.open(name) as source, tmp.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        os.replace(tmp, target)
    return out


def fetch_variant(variant: Variant, folder: Path, *, log=print) -> list[Path]:
    """Download (and unpack) every file of ``variant`` into ``folder``."""
    manual = [d for d in variant.downloads if not d.url]
    if not variant.downloads or manual:
        lines = [f"  {d.file}: {d.note or 'no public URL known'}" for d in manual]
        raise DataError(folder, "these files have no public download URL; put them in this "
                                "folder by hand:\n" + ("\n".join(lines) or "  (none listed)"))
    paths = []
    for item in variant.downloads:
        paths.extend(_fetch_one(item, folder, log))
    return paths


def _fetch_one(item: Download, folder: Path, log) -> list[Path]:
    dest = folder / item.file
    log(f"{item.url} -> {dest}")
    download(item.url, dest, item.sha256 or None)
    if not item.sha256:
        log(f"  no checksum in the card; SHA-256 of what was downloaded: {sha256_file(dest)}")
    if item.extract:
        files = extract(dest, item.extract, folder)
        log(f"  extracted {', '.join(p.name for p in files)}")
        return files
    return [dest]


def main(argv: list[str] | None = None) -> int:
    from genrec_bench.data.catalog import DOWNLOAD_CACHE, ENV_VAR, dataset_names, get_card

    parser = argparse.ArgumentParser(prog="python -m genrec_bench.data.download",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help=f"dataset: {', '.join(dataset_names())}")
    parser.add_argument("--data-root", default=None,
                        help=f"folder to put <card folder>/ in (default: ${ENV_VAR} when set, "
                             f"else {DOWNLOAD_CACHE})")
    parser.add_argument("--variant", choices=("raw", "preprocessed"), default=None,
                        help="which files to fetch (default: raw, else preprocessed)")
    args = parser.parse_args(argv)
    try:
        card = get_card(args.name)
        root = Path(args.data_root or os.environ.get(ENV_VAR) or DOWNLOAD_CACHE)
        variants = [v for v in card.variants() if v.downloads
                    and (args.variant is None or v.kind == args.variant)]
        if not variants:
            raise DataError(card.path, f"no downloads are listed for {args.name!r}"
                                       + (f" ({args.variant})" if args.variant else ""))
        variant = next((v for v in variants if v.kind == "raw"), variants[0])
        folder = root / card.folder
        fetch_variant(variant, folder)
    except GenRecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {folder}\nload it with --data-root {root} (or GENREC_DATA={root})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
