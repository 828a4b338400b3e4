"""The optional embedlens.toml of a dataset folder: description, metadata file, id column, view labels."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .._validation import EmbedLensInputError
from .text_formats import _decode_bytes

MANIFEST_NAME = "embedlens.toml"
_MANIFEST_KEYS = {"description", "metadata", "id_column", "views"}
_VIEW_KEYS = {"file", "name", "key", "run", "layer", "step", "modality", "extra"}


@dataclass
class _ViewSpec:
    file: str
    name: str | None = None
    key: str | None = None
    run: str = ""
    layer: str = ""
    step: int | None = None
    modality: str = ""
    extra: dict = field(default_factory=dict)


def _type_name(value) -> str:
    return {dict: "a table", list: "an array", bool: "a boolean", int: "an integer", float: "a number",
            str: "a string"}.get(type(value), f"a {type(value).__name__}")


def _require_text(value, where: str, rel: str) -> None:
    """Refuse a value that is not a non-empty string without NUL (names, paths, descriptions)."""
    if not isinstance(value, str):
        raise EmbedLensInputError(f"{where} must be a string, not {_type_name(value)}", source=rel)
    if "\x00" in value:
        raise EmbedLensInputError(f"{where} holds a NUL character", source=rel)


def _read_manifest(path: Path, rel: str) -> dict:
    """The manifest's keys, with ``views`` as :class:`_ViewSpec` s and ``notes`` (reading notes).

    TOML is UTF-8; a byte-order mark is skipped, UTF-16 / UTF-32 with a mark are decoded,
    and a Windows-1252 file is read as such with a note (the same rules as every text file).
    """
    with open(path, "rb") as fh:
        data = fh.read()
    text, note = _decode_bytes(data, rel)
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise EmbedLensInputError(f"is not valid TOML ({exc})", source=rel) from None
    unknown = set(raw) - _MANIFEST_KEYS
    if unknown:
        raise EmbedLensInputError(
            f"unknown key(s) {sorted(unknown)}; known keys: {sorted(_MANIFEST_KEYS)}", source=rel
        )
    for key in ("description", "metadata", "id_column"):
        if key in raw:
            _require_text(raw[key], key, rel)
    views = raw.get("views", [])
    if not isinstance(views, list):
        raise EmbedLensInputError(
            f"views must be a list of tables ([[views]] entries), not {_type_name(views)}", source=rel)
    specs = []
    for i, entry in enumerate(views):
        if not isinstance(entry, dict) or "file" not in entry:
            raise EmbedLensInputError(f"[[views]] entry {i} needs a 'file' key", source=rel)
        _require_text(entry["file"], f"[[views]] entry {i}: file", rel)
        bad = set(entry) - _VIEW_KEYS
        if bad:
            raise EmbedLensInputError(
                f"[[views]] entry {i} ({entry['file']}): unknown key(s) {sorted(bad)}; known "
                f"keys: {sorted(_VIEW_KEYS)}",
                source=rel,
            )
        for key in ("name", "key"):
            if key in entry:
                _require_text(entry[key], f"[[views]] entry {i} ({entry['file']}): {key}", rel)
        for key in ("run", "layer", "modality"):
            if key in entry and (not isinstance(entry[key], (str, int, float)) or isinstance(entry[key], bool)):
                raise EmbedLensInputError(
                    f"[[views]] entry {i} ({entry['file']}): {key} must be a string or a number, not "
                    f"{_type_name(entry[key])}", source=rel)
        step = entry.get("step")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
            raise EmbedLensInputError(
                f"[[views]] entry {i} ({entry['file']}): step = {step!r} must be an integer",
                source=rel,
            )
        extra = entry.get("extra", {})
        if not isinstance(extra, dict) or not all(isinstance(v, (int, float, str)) for v in extra.values()):
            raise EmbedLensInputError(
                f"[[views]] entry {i} ({entry['file']}): extra must be a table of numbers or strings",
                source=rel,
            )
        specs.append(
            _ViewSpec(
                file=str(entry["file"]),
                name=entry.get("name"),
                key=entry.get("key"),
                run=str(entry.get("run", "")),
                layer=str(entry.get("layer", "")),
                step=step,
                modality=str(entry.get("modality", "")),
                extra=dict(extra),
            )
        )
    raw["views"] = specs
    raw["notes"] = [note] if note else []
    return raw
