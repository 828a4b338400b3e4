"""TensorBoard projector logs: ``projector_config.pbtxt`` and the tensors and metadata it names.

``add_embedding`` (tensorboardX, ``torch.utils.tensorboard``) appends one ``embeddings { ... }``
entry per call to the log folder's ``projector_config.pbtxt``::

    embeddings {
      tensor_name: "layer1:00010"                # tag:global_step
      tensor_path: "00010/layer1/tensors.tsv"    # relative to the log folder
      metadata_path: "00010/layer1/metadata.tsv"
    }

and TensorBoard's own ``projector.visualize_embeddings`` writes the same message. Each entry is
a view: ``layer`` is the tag, ``step`` the global step (a ``tag:NNNNN`` name), and ``run`` the
log folder relative to the folder opened, so ``runs/`` holding ``runs/exp1`` and ``runs/exp2``
(one ``SummaryWriter`` each) is one dataset with two runs. Tensors are read as TensorBoard reads
them: a tab-separated text file, else (bytes that are not text) raw float32 of
``tensor_shape``. The entries' metadata tables describe the same items; they are merged into
one (identical tables once, other columns added) and a column that differs between entries is
an error, since views must hold the same items in the same order. Embeddings stored only in a
TensorFlow checkpoint (no ``tensor_path``) are refused with the way out.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import EmbedLensInputError
from .contents import _check_size, _FileContents, _inside, _is_hidden, _Matrix, _numeric_matrix
from .manifest import _ViewSpec
from .text_formats import _read_text, _read_text_metadata

PROJECTOR_CONFIG = "projector_config.pbtxt"

_TOKEN = re.compile(r"""
    \s+ | \#[^\n]*                                   # blanks and comments
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}<>:;,])
  | (?P<word>[A-Za-z0-9_.+-]+)
""", re.X)
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.S)
_SIMPLE = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v"}
_NAME_STEP = re.compile(r"^(?P<tag>.*):(?P<step>\d+)$")


def _unescape(quoted: str) -> str:
    def one(m: re.Match) -> bytes:
        e = m.group(1)
        if e[:1] == b"x":
            return bytes([int(e[1:], 16)])
        if e[:1].isdigit():
            return bytes([int(e, 8) & 0xFF])
        return _SIMPLE.get(e, e)

    return _ESCAPE.sub(one, quoted[1:-1].encode("utf-8")).decode("utf-8", errors="replace")


def _parse_pbtxt(text: str, rel: str) -> dict:
    """A protobuf text-format message as ``{field: [values]}`` (nested messages as dicts).

    Hand-written (about 40 lines) so that reading a projector log needs neither TensorBoard nor
    protobuf at run time; it reads the text format's grammar, not only ProjectorConfig's fields.
    """
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            line = text.count("\n", 0, pos) + 1
            raise EmbedLensInputError(f"line {line}: cannot read {text[pos:pos + 20]!r}; expected "
                                      "protobuf text format", source=rel)
        pos = m.end()
        if m.lastgroup:
            tokens.append((m.lastgroup, m.group(m.lastgroup), text.count("\n", 0, m.start()) + 1))
    i = 0

    def message(close: str | None) -> dict:
        nonlocal i
        out: dict = {}
        while i < len(tokens):
            kind, value, line = tokens[i]
            if kind == "punct" and value == close:
                i += 1
                return out
            if kind != "word":
                raise EmbedLensInputError(f"line {line}: expected a field name, found {value!r}", source=rel)
            i += 1
            if i < len(tokens) and tokens[i][1] == ":":
                i += 1
            if i >= len(tokens):
                raise EmbedLensInputError(f"line {line}: field {value!r} has no value", source=rel)
            k2, v2, _ = tokens[i]
            i += 1
            if k2 == "punct" and v2 in "{<":
                out.setdefault(value, []).append(message("}" if v2 == "{" else ">"))
            elif k2 == "str":
                s = _unescape(v2)
                while i < len(tokens) and tokens[i][0] == "str":  # adjacent strings concatenate
                    s += _unescape(tokens[i][1])
                    i += 1
                out.setdefault(value, []).append(s)
            elif k2 == "word":
                out.setdefault(value, []).append(v2)
            else:
                raise EmbedLensInputError(f"line {line}: field {value!r} has no value", source=rel)
            if i < len(tokens) and tokens[i][1] in ";,":
                i += 1
        if close is not None:
            raise EmbedLensInputError(f"a message opened with {'{' if close == '}' else '<'} is never "
                                      "closed", source=rel)
        return out

    return message(None)


def _projector_logs(folder: Path) -> list[Path]:
    """The log folders (holding ``projector_config.pbtxt``) at or under ``folder``, hidden paths skipped."""
    found = []
    for p in sorted(folder.rglob(PROJECTOR_CONFIG)):
        rel = p.relative_to(folder).parts
        if p.is_file() and not _is_hidden(rel):
            found.append(p.parent)
    return found


def _first(entry: dict, key: str, default=""):
    values = entry.get(key)
    return values[-1] if values else default


def _read_tensor(path: Path, rel: str, shape: list[int]) -> _FileContents:
    """A tensor file as TensorBoard reads it: tab-separated text, else raw float32 of ``shape``."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    try:
        head.decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError as exc:
        is_text = exc.start >= len(head) - 3  # a character cut at the end of the sample
    if is_text:
        contents = _read_text(path, rel)
        contents.notes = [n for n in contents.notes if not n.startswith(f"{rel}: no header")]
        return contents
    if len(shape) != 2:
        raise EmbedLensInputError(
            f"is binary but the config gives tensor_shape {shape}; a binary tensor file needs "
            "tensor_shape: [rows, dimensions] (TensorBoard's rule)", source=rel)
    n, d = shape
    if path.stat().st_size != n * d * 4:
        raise EmbedLensInputError(
            f"holds {path.stat().st_size} bytes but tensor_shape {shape} of float32 needs {n * d * 4}",
            source=rel)
    X = np.fromfile(path, dtype="<f4").reshape(n, d)
    return _FileContents([_Matrix(path.stem, _numeric_matrix(X, rel), rel, "float32")])


def _merge_metadata(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame | None:
    """One table from the entries' metadata: identical tables once, new columns added; a column
    that differs between entries is an error (the views would not describe the same items)."""
    merged: pd.DataFrame | None = None
    origin: dict[str, str] = {}
    for rel, df in tables:
        df = df.reset_index(drop=True)
        if merged is None:
            merged, origin = df.copy(), {str(c): rel for c in df.columns}
            continue
        if len(df) != len(merged):
            raise EmbedLensInputError(
                f"has {len(df)} rows but {next(iter(origin.values()))} has {len(merged)}; the embeddings "
                "of one log must hold the same items in the same order (open one embedding's "
                "tensors.tsv folder on its own to see it alone)", source=rel)
        for c in df.columns:
            if c in merged.columns:
                if not merged[c].equals(df[c]):
                    raise EmbedLensInputError(
                        f"column {c!r} differs from the one in {origin[str(c)]}; the embeddings of one "
                        "log must describe the same items in the same order (open one embedding's "
                        "folder on its own to see it alone)", source=rel, column=str(c))
            else:
                merged[c] = df[c].to_numpy()
                origin[str(c)] = rel
    return merged


def _read_projector(folder: Path, name: str, max_bytes: int) -> tuple[list, pd.DataFrame | None, str, list[str]]:
    """The views (matrix, spec) of every projector log at or under ``folder``, the merged
    metadata, what to call it in messages, and reading notes."""
    entries: list[tuple[_Matrix, _ViewSpec]] = []
    metas: list[tuple[str, pd.DataFrame]] = []
    notes: list[str] = []
    names: set[str] = set()
    for log in _projector_logs(folder):
        run = log.relative_to(folder).as_posix()
        run = "" if run == "." else run
        log_rel = f"{name}/{run}" if run else name
        config_rel = f"{log_rel}/{PROJECTOR_CONFIG}"
        _check_size(log / PROJECTOR_CONFIG, max_bytes, config_rel)
        text = (log / PROJECTOR_CONFIG).read_text(encoding="utf-8", errors="replace")
        embeddings = _parse_pbtxt(text, config_rel).get("embeddings", [])
        by_name: dict[str, dict] = {}
        for e in embeddings:  # a script run twice appends the same entries again: the last wins
            by_name[str(_first(e, "tensor_name")) + "\0" + str(_first(e, "tensor_path"))] = e
        sprites = 0
        for e in by_name.values():
            tensor_name = str(_first(e, "tensor_name"))
            tensor_path = str(_first(e, "tensor_path"))
            if not tensor_path:
                raise EmbedLensInputError(
                    f"embedding {tensor_name!r} has no tensor_path: it lives in a TensorFlow checkpoint, "
                    "which EmbedLens does not read. Save it as a file (tensorboardX / "
                    "torch.utils.tensorboard add_embedding do; or np.save the matrix)", source=config_rel)
            tpath = log / tensor_path
            trel = f"{log_rel}/{tensor_path}"
            if not _inside(tpath, log):
                raise EmbedLensInputError(f"tensor_path {tensor_path!r} points outside the log folder",
                                          source=config_rel)
            if not tpath.is_file():
                raise EmbedLensInputError(f"embedding {tensor_name!r}: its tensor_path {tensor_path!r} "
                                          "does not exist", source=config_rel)
            _check_size(tpath, max_bytes, trel)
            shape = [int(s) for s in e.get("tensor_shape", [])]
            contents = _read_tensor(tpath, trel, shape)
            notes += contents.notes
            matrix = contents.matrices[0]
            n = matrix.data.shape[0]
            if shape and len(shape) == 2 and list(matrix.data.shape) != shape:
                raise EmbedLensInputError(
                    f"has shape {list(matrix.data.shape)} but the config's tensor_shape is {shape}",
                    source=trel)
            meta_path = str(_first(e, "metadata_path"))
            if meta_path:
                mpath = log / meta_path
                mrel = f"{log_rel}/{meta_path}"
                if not _inside(mpath, log) or not mpath.is_file():
                    raise EmbedLensInputError(f"metadata_path {meta_path!r} does not exist inside the log "
                                              "folder", source=config_rel)
                _check_size(mpath, max_bytes, mrel)
                meta, meta_notes = _read_text_metadata(mpath, mrel, n, trel)
                metas.append((mrel, meta))
                notes += meta_notes
            if e.get("sprite"):
                sprites += 1
            m = _NAME_STEP.match(tensor_name)
            layer, step = (m.group("tag"), int(m.group("step"))) if m else (tensor_name, None)
            view_name = f"{run}/{tensor_name}" if run else tensor_name
            while view_name in names:
                view_name += "'"
            names.add(view_name)
            entries.append((matrix, _ViewSpec(file=tensor_path, name=view_name, run=run, layer=layer,
                                              step=step)))
        notes.append(f"{config_rel}: a TensorBoard projector log, {len(by_name)} embedding(s); "
                     "each is a view (run: the log folder, layer: the tag, step: the global step)")
        if sprites:
            notes.append(f"{config_rel}: sprite images (label_img) are not read; EmbedLens shows images "
                         "from a metadata column")
    if not entries:
        raise EmbedLensInputError(f"{PROJECTOR_CONFIG} lists no embeddings", source=name)
    return entries, _merge_metadata(metas), name, notes
