"""Fuzzing every loader: whatever file arrives, ``core.load`` gives a valid Dataset or an EmbedLensInputError.

Hypothesis writes random and mutated ``.npy`` / ``.npz`` / Parquet / Feather / Arrow IPC / CSV /
TSV files and ``embedlens.toml`` manifests (random arrays of every dtype and shape, tables of
every Arrow type, text with every encoding, quoting, NUL bytes, ``1e999``, nested lists, hostile
paths in manifests), plus truncated, bit-flipped, spliced copies of valid files and binary
garbage under each extension. For every case:

- the outcome is a :class:`core.Dataset` that keeps the loader's promises (float32 read-only
  C-contiguous views, finite, one metadata row per item) or an :class:`EmbedLensInputError` with a
  message; any other exception fails the test;
- it finishes within ``TIME_LIMIT`` seconds (a hang check: an interval timer interrupts it);
- nothing changes on disk: the case's folder, the session's home and cache folders and the
  checkout's top level are listed (names, sizes, modification times) before and after;
- a manifest never brings in the matrix that lies outside the dataset folder.

``FUZZ_EXAMPLES=N`` runs N random examples per strategy instead of the fixed (derandomized)
CI profile of 120; the cases tried per loader are printed at the end of the module (and written
as JSON to ``FUZZ_COUNTS_JSON`` when set).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import zipfile
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import core
from core import EmbedLensInputError

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
# FUZZ_EXAMPLES, not EMBEDLENS_*: tests/hermetic.py removes the caller's EMBEDLENS_* variables
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or 120
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
                database=None, suppress_health_check=list(HealthCheck))
TIME_LIMIT = 30.0
"""Seconds one load may take before it counts as a hang (a load of these small files takes milliseconds)."""

CASES: Counter = Counter()
OUTCOMES: dict[str, Counter] = defaultdict(Counter)
SECRET = np.full((5, 3), 777.0, dtype=np.float32)  # beside every dataset folder: must never be read


@pytest.fixture(scope="module", autouse=True)
def _report_counts(pytestconfig):
    yield
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    lines = [f"  {kind:16s} {n:5d} cases: {OUTCOMES[kind]['loaded']:4d} loaded, {OUTCOMES[kind]['refused']:4d} refused"
             for kind, n in sorted(CASES.items())]
    text = "fuzz cases tried per loader:\n" + "\n".join(lines) + f"\n  total {sum(CASES.values())}"
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + text)
    else:
        print("\n" + text)
    out = os.environ.get("FUZZ_COUNTS_JSON")
    if out:
        Path(out).write_text(json.dumps({k: {"cases": n, **OUTCOMES[k]} for k, n in CASES.items()}, indent=1))


class _Hang(BaseException):
    """Raised by the interval timer; a BaseException so no loader's ``except Exception`` swallows it."""


@contextmanager
def _time_limit(seconds: float):
    def fire(signum, frame):
        raise _Hang(f"the load took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _listing(folder: Path, recursive: bool = True) -> dict:
    out = {}
    if not folder.exists():
        return out
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for root, dirs, files in walker:
        for name in dirs + files:
            p = os.path.join(root, name)
            try:
                s = os.lstat(p)
            except OSError:
                continue
            out[p] = (s.st_size, s.st_mtime_ns)
    return out


def _snapshot(case: Path) -> dict:
    return {"case": _listing(case), "home": _listing(Path(os.environ["HOME"])),
            "cache": _listing(Path(os.environ["EMBEDLENS_CACHE"])), "checkout": _listing(ROOT, recursive=False)}


def _check_dataset(ds: core.Dataset) -> None:
    assert ds.n >= 1 and len(ds.views) >= 1
    assert len(ds.metadata) == ds.n and len(ds.ids) == ds.n
    assert isinstance(ds.fingerprint, str) and all(isinstance(note, str) for note in ds.notes)
    for v in ds.views:
        X = v.X
        assert X.dtype == np.float32 and X.ndim == 2 and X.shape[0] == ds.n and X.shape[1] >= 1
        assert X.flags.c_contiguous and not X.flags.writeable
        assert np.isfinite(X).all()
        assert not (X.shape == SECRET.shape and (X == SECRET).all()), "a file outside the dataset folder was read"


def _check_message(exc: EmbedLensInputError) -> None:
    text = str(exc)
    assert text.strip(), "an EmbedLensInputError without a message"
    assert "Traceback" not in text and "np.int64(" not in text and "np.float64(" not in text, text
    assert len(text) < 3000, f"a {len(text)}-character message: {text[:300]} ..."


def _load_case(kind: str, target: Path, case: Path) -> str:
    """Load ``target`` under the checks of the module docstring; returns "loaded" or "refused"."""
    CASES[kind] += 1
    before = _snapshot(case)
    with _time_limit(TIME_LIMIT):
        try:
            ds = core.load(target, root=case)
        except EmbedLensInputError as exc:
            _check_message(exc)
            note(f"refused: {exc}")
            outcome = "refused"
        else:
            _check_dataset(ds)
            outcome = "loaded"
    assert _snapshot(case) == before, "loading changed files on disk"
    OUTCOMES[kind][outcome] += 1
    return outcome


_counter = iter(range(10**9))


@pytest.fixture
def cases(tmp_path):
    """A fresh folder per hypothesis example (function-scoped fixtures are shared by the examples)."""
    def make() -> Path:
        case = tmp_path / f"case{next(_counter)}"
        case.mkdir()
        return case
    return make


# ------------------------------------------------------------------ byte-level mutations

@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` truncated, bit-flipped, with bytes inserted, deleted, duplicated or overwritten."""
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "overwrite"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "truncate":
            raw = raw[:at]
        elif op == "flip" and raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            raw[at:at] = draw(st.sampled_from([b"\x00", b"\xff" * 8, b"\n", b",", b'"', b"\r\n", b"\x00\x00\x00\x01",
                                               b"\xef\xbb\xbf", b"nan", b"1e999", b"'descr': '|O'"]))
        elif op == "delete":
            del raw[at:at + draw(st.integers(1, 64))]
        elif op == "duplicate":
            raw[at:at] = raw[at:at + draw(st.integers(1, 256))]
        elif op == "overwrite" and raw:
            chunk = draw(st.binary(min_size=1, max_size=16))
            raw[at:at + len(chunk)] = chunk
    return bytes(raw)


def garbage() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(min_size=0, max_size=2048),
                     st.sampled_from([b"\x00" * 512, b"\xff" * 512, pickle.dumps({"a": [1, 2]}),
                                      b"PK\x03\x04" + b"\x00" * 100, b"PAR1" + b"\x00" * 64 + b"PAR1",
                                      b"ARROW1\x00\x00" + b"\xff" * 64, b"\x93NUMPY\x01\x00\x10\x00{}" + b" " * 10]))


# ------------------------------------------------------------------ arrays (.npy / .npz)

_DTYPES = ["<f2", "<f4", ">f4", "<f8", ">f8", "<i1", ">i2", "<i4", "<u8", "|b1", "<c8", "<m8[s]", "<M8[D]",
           "|S3", "<U2", "|V4", [("a", "<f4"), ("b", "<i2")], "<f4,(2,)i1"]
_SPECIAL = [0.0, -0.0, 1.0, -1.0, 3.4e38, -3.4e38, 1e300, 1e-45, 5e-324, np.inf, -np.inf, np.nan]


@st.composite
def matrices(draw) -> np.ndarray:
    """A plausible view: 1-6 x 1-5 numbers of a numeric dtype, sometimes with special values."""
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 5)))
    dtype = np.dtype(draw(st.sampled_from(["<f2", "<f4", ">f4", "<f8", "<i4", "|u1", "|b1"])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.standard_normal(shape) * 10.0 ** draw(st.integers(-40, 40))
    if draw(st.integers(0, 3)) == 0:
        values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from(_SPECIAL))
    with np.errstate(over="ignore", invalid="ignore"):
        a = values.astype(dtype)
    return np.asfortranarray(a) if draw(st.booleans()) else a


@st.composite
def arrays(draw) -> np.ndarray:
    if draw(st.booleans()):
        return draw(matrices())
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = np.zeros(shape, dtype=dtype)
    fill = draw(st.sampled_from(["bits", "normal", "special"]))
    if a.size and fill == "bits":
        raw = a.reshape(-1).view(np.uint8)  # a view: a is C-contiguous here
        raw[...] = rng.integers(0, 256, raw.shape, dtype=np.uint8)
    elif a.size and dtype.kind in "fc":
        values = rng.standard_normal(shape) if fill == "normal" else rng.choice(_SPECIAL, size=shape)
        with np.errstate(over="ignore"):
            a[...] = values
    elif a.size and dtype.kind in "iub":
        a[...] = rng.integers(0, 2, shape) if dtype.kind == "b" else rng.integers(0, 100, shape)
    if draw(st.booleans()) and a.ndim >= 2:
        a = np.asfortranarray(a)
    return a


def _npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


@st.composite
def npy_files(draw) -> bytes:
    kind = draw(st.sampled_from(["array", "array", "object", "mutated", "garbage"]))
    if kind == "array":
        return _npy_bytes(draw(arrays()))
    if kind == "object":
        return _npy_bytes(np.array([{"a": 1}, None, "x"], dtype=object))
    if kind == "mutated":
        return draw(mutated(_npy_bytes(np.arange(3 * draw(st.integers(1, 20)), dtype=np.float32).reshape(-1, 3)
                                       if draw(st.booleans()) else draw(arrays()))))
    return draw(garbage())


_NAMES = st.one_of(st.sampled_from(["x", "X", "emb", "label", "id", "", "a/b", "../up", "x.npy", "ü", "file",
                                    "allow_pickle", "__index_level_0__"]),
                   st.text(min_size=1, max_size=12))


@st.composite
def npz_files(draw) -> bytes:
    kind = draw(st.sampled_from(["arrays", "arrays", "mutated", "garbage", "zip"]))
    buf = io.BytesIO()
    if kind in ("arrays", "mutated"):
        members = draw(st.dictionaries(_NAMES, arrays(), max_size=4))
        if draw(st.booleans()):  # a plausible dataset: one matrix and matching columns
            n = draw(st.integers(1, 6))
            members["X"] = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
            members["label"] = np.array(["a", "b", "<b>c</b>", "", "NA", "x"][:n])
        compress = draw(st.booleans())
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
            for name, a in members.items():
                zf.writestr(name + ".npy", _npy_bytes(a))
        data = buf.getvalue()
        return draw(mutated(data)) if kind == "mutated" else data
    if kind == "zip":  # a zip holding other things
        with zipfile.ZipFile(buf, "w") as zf:
            for name in draw(st.lists(_NAMES, max_size=3)):
                zf.writestr(name or "x", draw(st.binary(max_size=200)))
        return buf.getvalue()
    return draw(garbage())


# ------------------------------------------------------------------ Arrow tables

_HOSTILE_TEXT = ["<script>window.__x=1</script>", "<img src=x onerror=alert(1)>", "[link](javascript:alert(1))",
                 "$x^2$", "<b>bold</b><br>", "NA", "", "\x00", "١٢", "😀", "a\nb", '"', "None", "1e999"]


@st.composite
def arrow_columns(draw, n: int):
    """(name, pa.Array) of ``n`` rows of a random Arrow type."""
    name = draw(st.one_of(st.sampled_from(["emb", "embedding", "vector", "dim_0", "dim_1", "dim_2", "e3", "id",
                                           "label", "__index_level_0__", ""]), st.text(max_size=8)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["list_f32", "list_f32", "fixed_f64", "fixed_f16", "fixed_f64", "large_list_i8", "ragged", "null_vector",
                                 "null_inside", "list_str", "float", "int", "bool", "str", "null", "timestamp",
                                 "dictionary", "struct", "nested", "binary", "decimal", "special"]))
    d = draw(st.integers(0, 4))
    vals = rng.standard_normal((n, d))
    if kind == "list_f32":
        arr = pa.array([list(r) for r in vals.astype(np.float32)], type=pa.list_(pa.float32()))
    elif kind == "fixed_f16":
        arr = pa.FixedSizeListArray.from_arrays(pa.array(vals.astype(np.float16).ravel()), max(d, 1)) if d else \
            pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(n, np.float16)), 1)  # pyarrow 16 takes no Python floats as float16
    elif kind == "fixed_f64":
        arr = pa.array([list(r) for r in vals], type=pa.list_(pa.float64(), d))
    elif kind == "large_list_i8":
        arr = pa.array([list(r.astype(np.int8)) for r in vals * 10], type=pa.large_list(pa.int8()))
    elif kind == "ragged":
        arr = pa.array([list(rng.standard_normal(int(rng.integers(0, 4)))) for _ in range(n)], type=pa.list_(pa.float64()))
    elif kind == "null_vector":
        arr = pa.array([None if i % 2 else [1.0, 2.0] for i in range(n)], type=pa.list_(pa.float32()))
    elif kind == "null_inside":
        arr = pa.array([[1.0, None] for _ in range(n)], type=pa.list_(pa.float32()))
    elif kind == "list_str":
        arr = pa.array([["a", "b"] for _ in range(n)], type=pa.list_(pa.string()))
    elif kind == "float":
        arr = pa.array(rng.standard_normal(n))
    elif kind == "special":
        arr = pa.array(rng.choice(_SPECIAL, size=n))
    elif kind == "int":
        arr = pa.array(rng.integers(-5, 5, n))
    elif kind == "bool":
        arr = pa.array(rng.integers(0, 2, n).astype(bool))
    elif kind == "str":
        arr = pa.array([draw(st.sampled_from(_HOSTILE_TEXT)) for _ in range(n)])
    elif kind == "null":
        arr = pa.nulls(n)
    elif kind == "timestamp":
        arr = pa.array(rng.integers(0, 10**12, n), type=pa.timestamp("ms"))
    elif kind == "dictionary":
        arr = pa.array(["x", "y", "x", "z", "x", "y"][:n]).dictionary_encode()
    elif kind == "struct":
        arr = pa.array([{"a": i, "b": "s"} for i in range(n)])
    elif kind == "nested":
        arr = pa.array([[[1.0, 2.0], [3.0]] for _ in range(n)], type=pa.list_(pa.list_(pa.float64())))
    elif kind == "binary":
        arr = pa.array([bytes([i % 256]) * 3 for i in range(n)], type=pa.binary())
    else:
        import decimal
        arr = pa.array([decimal.Decimal(f"{i / 7:.3f}") for i in range(n)], type=pa.decimal128(10, 3))
    return name, arr


@st.composite
def arrow_tables(draw) -> pa.Table:
    n = draw(st.integers(0, 6))
    cols = draw(st.lists(arrow_columns(n), min_size=0, max_size=5))
    if not cols:
        return pa.table({})
    names = [c[0] for c in cols]
    return pa.Table.from_arrays([c[1] for c in cols], names=names)


def _write_arrow(table: pa.Table, fmt: str, draw) -> bytes:
    buf = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, buf, compression=draw(st.sampled_from(["none", "snappy", "zstd", "gzip"])),
                       row_group_size=draw(st.integers(1, 8)))
    elif fmt == "feather":
        feather.write_feather(table, buf, compression=draw(st.sampled_from(["uncompressed", "lz4", "zstd"])),
                              version=2)
    else:
        writer_cls = pa.ipc.new_file if draw(st.booleans()) else pa.ipc.new_stream
        with writer_cls(buf, table.schema) as w:
            for batch in table.to_batches(max_chunksize=draw(st.integers(1, 4))):
                w.write_batch(batch)
    return buf.getvalue()


def arrow_files(fmt: str):
    @st.composite
    def strategy(draw) -> bytes:
        kind = draw(st.sampled_from(["table", "table", "table", "pandas", "mutated", "garbage"]))
        if kind in ("table", "mutated"):
            table = draw(arrow_tables())
            if draw(st.booleans()) and table.num_rows:  # a plausible file: add a vector column
                table = table.append_column("emb", pa.array([[0.5, 1.5]] * table.num_rows,
                                                            type=pa.list_(pa.float32(), 2)))
            try:
                data = _write_arrow(table, fmt, draw)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError):
                assume(False)  # a table this writer cannot store (not a reader's concern)
            return draw(mutated(data)) if kind == "mutated" else data
        if kind == "pandas":  # pandas metadata: a stored index, odd column names
            df = pd.DataFrame({"dim_0": [1.0, 2.0, 3.0], "dim_1": [0.0, 1.0, 0.5], "text": _HOSTILE_TEXT[:3]},
                              index=draw(st.sampled_from([pd.Index([5, 6, 7], name=None), pd.Index(["a", "b", "a"]),
                                                          pd.MultiIndex.from_tuples([(1, "a"), (1, "b"), (2, "a")])])))
            return _write_arrow(pa.Table.from_pandas(df), fmt, draw)
        return draw(garbage())
    return strategy()


# ------------------------------------------------------------------ text (.csv / .tsv)

_CELLS = st.one_of(
    st.sampled_from(["1", "-2.5", "0", "1e999", "-1e999", "nan", "NaN", "inf", "-Infinity", "1_000", "0x1F", " 3 ",
                     "1,5", "١٢", "½", "1e-400", "3.4e39", "NA", "null", "None", "", '"', '""', '"a,b"', '"1"',
                     "[1, 2]", "[[1, 2], [3]]", "[1,,2]", "[]", "\x00", "a\x00b", "\r", "<script>alert(1)</script>",
                     "$x$", "😀", "id", "dim_0", "#N/A", "TRUE", "2024-01-01"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.text(max_size=6),
)


@st.composite
def text_tables(draw, sep: str, rows: int | None = None) -> str:
    """A table: mostly numbers under a plausible header (``rows`` data rows when given), with
    hostile cells, ragged rows, odd headers and line endings mixed in."""
    width = draw(st.integers(1, 5))
    wild = draw(st.integers(0, 2)) == 0
    header = draw(st.sampled_from(["none", "dims", "words", "pandas", "numbers"]))
    lines = []
    if header == "dims":
        lines.append(sep.join(draw(st.permutations([f"dim_{j}" for j in range(width)]))))
    elif header == "words":
        lines.append(sep.join(draw(st.lists(st.sampled_from(["id", "label", "dim_0", "x", "", "emb", "text"]),
                                            min_size=width, max_size=width))))
    elif header == "pandas":
        lines.append(sep.join([""] + [str(j) for j in range(width - 1)]))
    elif header == "numbers":
        lines.append(sep.join(str(j) for j in range(width)))
    for _ in range(rows if rows is not None else draw(st.integers(0, 6))):
        ragged = wild and draw(st.integers(0, 5)) == 0
        cells = draw(st.lists(_CELLS, min_size=width if not ragged else 0, max_size=width if not ragged else 7))
        if not wild:  # numbers, one odd cell now and then, so the readers get past the header guess
            cells = [c if draw(st.integers(0, 12)) == 0 else repr(draw(st.floats(-1e6, 1e6))) for c in cells]
        lines.append(sep.join(cells))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(lines) + (newline if draw(st.booleans()) else "")


_ENCODINGS = ["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1",
              "shift_jis", "gb18030"]


def text_files(sep: str, rows: int | None = None):
    @st.composite
    def strategy(draw) -> bytes:
        kind = draw(st.sampled_from(["text", "text", "text", "mutated", "garbage"]))
        text = draw(text_tables(sep, rows))
        data = text.encode(draw(st.sampled_from(_ENCODINGS)), errors="replace")
        if kind == "mutated":
            return draw(mutated(data))
        if kind == "garbage":
            return draw(garbage())
        return data
    return strategy()


# ------------------------------------------------------------------ embedlens.toml

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v))
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are TOML basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


_PATHS = st.sampled_from(["x.npy", "y.npy", "metadata.csv", "../outside/secret.npy", "/etc/passwd", "sub/../x.npy",
                          "link.npy", "", ".", "x.npy/..", "nope.npy", "X.NPY", "meta.tsv", "\u0000", "~/x.npy"])
_TOML_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=10)  # TOML escapes no surrogates
_SCALARS = st.one_of(_TOML_TEXT, st.integers(-3, 10**20), st.floats(), st.booleans(), _PATHS,
                     st.sampled_from(_HOSTILE_TEXT))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(_TOML_TEXT, inner, max_size=3)),
                       max_leaves=6)


@st.composite
def manifests(draw) -> str:
    top = {}
    known = draw(st.integers(0, 3)) > 0  # mostly known keys, so the manifest's values are reached
    keys = ["description", "metadata", "id_column"] + ([] if known else ["extra", "name"])
    for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)):
        if key == "views":
            continue
        top[key] = draw(st.one_of(_PATHS, _VALUES)) if key == "metadata" else draw(_VALUES)
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in top.items()]
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[views]]")
        view_keys = ["file", "name", "key", "run", "layer", "step", "modality", "extra"] + ([] if known else ["stepp"])
        chosen = draw(st.lists(st.sampled_from(view_keys), unique=True, max_size=5))
        for key in (["file"] if known and "file" not in chosen else []) + chosen:
            if key == "file":
                value = draw(_PATHS) if draw(st.integers(0, 3)) else draw(_VALUES)
            elif key == "step":
                value = draw(st.one_of(st.integers(-5, 10**20), _VALUES))
            elif known and key in ("name", "run", "layer", "modality"):
                value = draw(st.one_of(st.sampled_from(_HOSTILE_TEXT), _VALUES))
            else:
                value = draw(_VALUES)
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


@st.composite
def toml_files(draw) -> bytes:
    kind = draw(st.sampled_from(["toml", "toml", "toml", "mutated", "garbage", "encoded"]))
    text = draw(manifests())
    if kind == "mutated":
        return draw(mutated(text.encode()))
    if kind == "garbage":
        return draw(garbage())
    if kind == "encoded":
        return text.encode(draw(st.sampled_from(_ENCODINGS)), errors="replace")
    return text.encode()


def _dataset_folder(case: Path, *, link: bool) -> Path:
    """A valid folder (x.npy, y.npy, metadata.csv) beside ``outside/secret.npy``; ``link``: also a
    symbolic link ``link.npy`` to the secret."""
    (case / "outside").mkdir()
    np.save(case / "outside" / "secret.npy", SECRET)
    folder = case / "ds"
    folder.mkdir()
    X = np.arange(15, dtype=np.float32).reshape(5, 3)
    np.save(folder / "x.npy", X)
    np.save(folder / "y.npy", X[::-1].copy())
    pd.DataFrame({"id": list("abcde"), "label": _HOSTILE_TEXT[:5]}).to_csv(folder / "metadata.csv", index=False)
    if link:
        os.symlink(case / "outside" / "secret.npy", folder / "link.npy")
    return folder


# ------------------------------------------------------------------ the fuzz tests, one per loader

_SUFFIXES = {"npy": [".npy"], "npz": [".npz"], "parquet": [".parquet", ".pq"], "feather": [".feather"],
             "arrow": [".arrow", ".ipc"]}
_STRATEGIES = {"npy": npy_files(), "npz": npz_files(), "parquet": arrow_files("parquet"),
               "feather": arrow_files("feather"), "arrow": arrow_files("arrow")}


@pytest.mark.parametrize("kind", list(_STRATEGIES))
def test_kind_fuzz_binary_formats_load_or_refuse(kind, cases):
    @FUZZ
    @given(data=_STRATEGIES[kind], suffix=st.sampled_from(_SUFFIXES[kind]), in_folder=st.booleans())
    def run(data, suffix, in_folder):
        case = cases()
        if in_folder:  # as a view of a folder dataset (with a metadata file of another row count, sometimes)
            (case / "ds").mkdir()
            (case / "ds" / f"v{suffix}").write_bytes(data)
            target = case / "ds"
        else:
            target = case / f"v{suffix}"
            target.write_bytes(data)
        _load_case(kind, target, case)

    run()


@pytest.mark.parametrize("kind,sep", [("csv", ","), ("tsv", "\t")])
def test_kind_fuzz_text_formats_load_or_refuse(kind, sep, cases):
    @FUZZ
    @given(data=st.data(), role=st.sampled_from(["view", "view", "metadata"]),
           suffix=st.sampled_from([f".{kind}", f".{kind.upper()}"] + ([".txt"] if kind == "tsv" else [])))
    def run(data, role, suffix):
        data = data.draw(text_files(sep, None if role == "view" else data.draw(st.sampled_from([5, 5, 5, 4, 6]))))
        case = cases()
        if role == "view":
            target = case / f"vectors{suffix}"
            target.write_bytes(data)
            _load_case(kind, target, case)
        else:  # the metadata file of a folder of 5 rows
            target = case / "ds"
            target.mkdir()
            np.save(target / "x.npy", np.arange(15, dtype=np.float32).reshape(5, 3))
            (target / f"metadata{suffix}").write_bytes(data)
            _load_case(f"{kind} metadata", target, case)

    run()


def test_kind_fuzz_manifests_load_or_refuse_and_never_leave_the_folder(cases):
    @FUZZ
    @given(data=toml_files(), link=st.integers(0, 5))
    def run(data, link):
        case = cases()
        folder = _dataset_folder(case, link=link == 0)
        (folder / "embedlens.toml").write_bytes(data)
        _load_case("embedlens.toml", folder, case)

    run()


def test_kind_fuzz_text_garbage_under_every_extension(cases):
    """Binary garbage (and text) under each text / binary extension, and images renamed."""
    @FUZZ
    @given(data=st.one_of(garbage(), npy_files(), text_files(",")),
           suffix=st.sampled_from([".csv", ".tsv", ".txt", ".npy", ".npz", ".parquet", ".feather", ".arrow"]))
    def run(data, suffix):
        case = cases()
        target = case / f"f{suffix}"
        target.write_bytes(data)
        _load_case("renamed", target, case)

    run()


# ------------------------------------------------------------------ what the fuzzing found (one test each)

def _refuses(path, match: str, **kwargs) -> str:
    with pytest.raises(EmbedLensInputError, match=match) as info:
        core.load(path, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("value", [1e39, -3.5e38, 1e300])
def test_kind_float64_beyond_float32_is_refused_not_made_inf(tmp_path, value):
    """Found: a float64 .npy holding 1e300 loaded as a Dataset with inf in it (the NaN / inf check
    ran on the float64 data, the cast to float32 came after)."""
    X = np.ones((4, 3))
    X[2, 1] = value
    np.save(tmp_path / "big.npy", X)
    text = _refuses(tmp_path / "big.npy", r"1 row \(rows 2\) hold values beyond float32's range")
    assert f"{abs(value):.3g}" in text and "Divide the matrix" in text
    pq.write_table(pa.table({"emb": pa.array([list(r) for r in X], type=pa.list_(pa.float64()))}), tmp_path / "b.parquet")
    _refuses(tmp_path / "b.parquet", r"b.parquet: 1 row \(rows 2\) hold values beyond float32's range")
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}).to_csv(tmp_path / "t.csv", index=False)
    _refuses(tmp_path / "t.csv", r"rows 2\) hold values beyond float32's range")


def test_kind_float64_rows_that_underflow_to_zero_are_refused(tmp_path):
    X = np.ones((3, 2))
    X[1] = [1e-50, -1e-60]  # every value below float32's smallest: a zero row once cast
    np.save(tmp_path / "tiny.npy", X)
    _refuses(tmp_path / "tiny.npy", r"1 row \(rows 1\) hold only values below float32's smallest")
    X[1] = [1e-50, 2.0]  # one value survives: precision, not a zero row; loads
    np.save(tmp_path / "ok.npy", X)
    assert core.load(tmp_path / "ok.npy").views[0].X[1, 1] == 2.0


def test_kind_text_number_beyond_float32_is_named_not_called_inf(tmp_path):
    """Found: "3.5e38" in a CSV was read as inf by the float32 parser and reported as a NaN / inf row."""
    (tmp_path / "v.csv").write_text("dim_0,dim_1\n1,2\n3,3.5e38\n")
    _refuses(tmp_path / "v.csv", r"row 1 \(line 3\), column 1: '3.5e38' is beyond float32's range")
    (tmp_path / "v.tsv").write_text("1\t2\n1e999\t3\n")
    _refuses(tmp_path / "v.tsv", r"row 1 \(line 2\), column 0: '1e999' is beyond float32's range")
    (tmp_path / "w.tsv").write_text("1\t2\ninf\t3\n")  # a written inf stays the NaN / inf rule
    with pytest.raises(core.NonFiniteRowsError):
        core.load(tmp_path / "w.tsv")


def test_kind_npy_damaged_header_is_refused(tmp_path):
    """Found: a header with a copy of its own first bytes spliced in made numpy's header parser
    raise tokenize.TokenError, which escaped (only ValueError / OSError were caught)."""
    data = _npy_bytes(np.zeros((), np.float16))
    (tmp_path / "h.npy").write_bytes(data[:42] + data)  # "\x93NUMPY...{'descr': '<f2', 'fortran_order'" twice
    _refuses(tmp_path / "h.npy", r"h.npy: has a damaged .npy header \(TokenError")


def test_kind_npy_header_promising_more_than_the_file_is_refused(tmp_path):
    np.save(tmp_path / "t.npy", np.ones((100, 4), np.float32))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw.replace(b"(100, 4)", b"(900, 4)"))
    _refuses(tmp_path / "t.npy", r"is truncated or damaged: its header promises 14,400 bytes .* holds 1,600")


def test_kind_npz_member_that_is_not_an_array_is_refused(tmp_path):
    """Found: np.load returns the raw bytes of a member that is not .npy, which then failed on .ndim."""
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as zf:
        zf.writestr("X.npy", _npy_bytes(np.ones((3, 2), np.float32)))
        zf.writestr("README.txt", b"hello")
    _refuses(tmp_path / "z.npz", r"holds 'README.txt', which is not a NumPy array")


def test_kind_npz_compressed_bomb_is_refused_before_decompressing(tmp_path, monkeypatch):
    """A 100 kB compressed archive whose array is 1 GB of zeros: refused by the size limit (and,
    under it, by the memory budget) from the header alone, nothing decompressed."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**18, 1024)})
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            zero = bytes(1 << 20)
            for _ in range(1024):
                member.write(zero)
    assert (tmp_path / "bomb.npz").stat().st_size < 2 << 20
    _refuses(tmp_path / "bomb.npz", r"array 'X' is 1,024.0 MB uncompressed, over the limit of 100 MB",
             max_bytes=100 << 20)
    monkeypatch.setenv("EMBEDLENS_MEMORY_BUDGET_MB", "64")
    _refuses(tmp_path / "bomb.npz", r"needs about 1.0 GB of memory, over the budget of 64.0 MB")


def test_kind_npz_with_two_arrays_of_one_name_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as zf:
        zf.writestr("X.npy", _npy_bytes(np.ones((3, 2), np.float32)))
        zf.writestr("X.npy", _npy_bytes(np.zeros((3, 2), np.float32)))
    _refuses(tmp_path / "d.npz", r"holds two arrays named 'X'")


@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_kind_arrow_duplicate_column_names_are_refused(tmp_path, suffix):
    """Found: two columns named "emb" raised pyarrow's KeyError from table.column()."""
    col = pa.array([[1.0, 2.0]] * 3, type=pa.list_(pa.float32()))
    table = pa.Table.from_arrays([col, col], names=["emb", "emb"])
    (pq.write_table if suffix == ".parquet" else feather.write_feather)(table, tmp_path / f"d{suffix}")
    _refuses(tmp_path / f"d{suffix}", r"has 2 columns named 'emb'; column names must be unique")


def test_kind_arrow_damaged_page_is_refused(tmp_path):
    """Found: a Parquet file whose footer reads but whose data page is damaged raised pyarrow's
    OSError / ArrowInvalid while the column was decoded (outside the opening check)."""
    pq.write_table(pa.table({"emb": pa.array([[float(i), 1.0] for i in range(50)], type=pa.list_(pa.float32()))}),
                   tmp_path / "p.parquet", compression="snappy")
    raw = bytearray((tmp_path / "p.parquet").read_bytes())
    for at in range(8, 120):
        raw[at] ^= 0x5A
    (tmp_path / "p.parquet").write_bytes(bytes(raw))
    _refuses(tmp_path / "p.parquet", r"p.parquet: (cannot be read as a Parquet file|is not a readable Parquet)")


def test_kind_arrow_schema_names_not_utf8_are_refused(tmp_path):
    """Found: an IPC file whose column name bytes are not UTF-8 raised UnicodeDecodeError."""
    buf = io.BytesIO()
    with pa.ipc.new_file(buf, pa.schema([("emb", pa.list_(pa.float32(), 2))])) as w:
        w.write_batch(pa.record_batch([pa.array([[1.0, 2.0]], type=pa.list_(pa.float32(), 2))], names=["emb"]))
    raw = buf.getvalue()
    (tmp_path / "n.arrow").write_bytes(raw.replace(b"emb\x00", b"\xf4\x90\x80\x00"))
    _refuses(tmp_path / "n.arrow", r"n.arrow: is not a readable Arrow IPC / Feather file \(UnicodeDecodeError")


@pytest.mark.parametrize("data,label", [(b"\xef\xbb\xbfdim_0\n1\n\xc2", "UTF-8"), (b"\xff\xfe1\x00\n\x001", "UTF-16"),
                                        (b"\xff\xfe\x00\x00\n\x00\x00\x00\n\x00\x00\x01", "UTF-32")])
def test_kind_text_byte_order_mark_with_undecodable_rest_is_refused(tmp_path, data, label):
    """Found: a byte-order mark was trusted; a truncated sequence after it raised UnicodeDecodeError
    from the csv module."""
    (tmp_path / "b.csv").write_bytes(data)
    _refuses(tmp_path / "b.csv", rf"starts with a {label} byte-order mark but is not {label} text: the bytes at offset")


@pytest.mark.parametrize("text", ["id,label,label,dim_0\n1,1,1,1\n", "id,id,dim_0\n1,1,1\n"])
def test_kind_text_duplicate_header_names_are_refused(tmp_path, text):
    """Found: a header naming a column twice crashed fingerprinting (a DataFrame where a column was
    expected) or id resolution (an ambiguous truth value); pandas renames the second ``.1`` elsewhere."""
    (tmp_path / "v.csv").write_text(text)
    _refuses(tmp_path / "v.csv", r"its header names the column '(label|id)' twice")
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((1, 2), np.float32))
    (folder / "metadata.csv").write_text("label,label\na,b\n")
    _refuses(folder, r"metadata.csv: its header names the column 'label' twice")


def test_kind_text_one_column_csv_with_blank_first_line_is_refused(tmp_path):
    """Found: a one-column CSV metadata file starting with a blank line raised IndexError."""
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((4, 2), np.float32))
    (folder / "metadata.csv").write_bytes(b"\n1\n\n\n")
    _refuses(folder, r"metadata.csv: its first line is blank; in a CSV file the first line is the header")


@pytest.mark.parametrize("toml,match", [
    ('id_column = []\n', r"id_column must be a string, not an array"),
    ('metadata = 5\n', r"metadata must be a string, not an integer"),
    ('views = 5\n', r"views must be a list of tables"),
    ('[[views]]\nfile = 3\n', r"\[\[views\]\] entry 0: file must be a string, not an integer"),
    ('[[views]]\nfile = "x.npy"\nname = {a = 1}\n', r"name must be a string, not a table"),
    ('[[views]]\nfile = "x.npy"\nrun = [1]\n', r"run must be a string or a number, not an array"),
    ('[[views]]\nfile = "x\\u0000.npy"\n', r"file holds a NUL character"),
])
def test_kind_manifest_values_of_the_wrong_type_are_refused(tmp_path, toml, match):
    """Found: ``id_column = []`` raised pandas' TypeError (unhashable list); ``metadata = 5`` and
    ``views = 5`` raised TypeError too."""
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((3, 2), np.float32))
    (folder / "embedlens.toml").write_text(toml)
    _refuses(folder, match)


def test_kind_symlinked_file_inside_a_dataset_folder_is_refused(tmp_path):
    """Found: a folder's files were listed with rglob, which returns a symbolic link to a file
    anywhere; the folder check only covered names written in the manifest."""
    (tmp_path / "outside").mkdir()
    np.save(tmp_path / "outside" / "secret.npy", SECRET)
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((5, 3), np.float32))
    os.symlink(tmp_path / "outside" / "secret.npy", folder / "link.npy")
    _refuses(folder, r"ds: 'link.npy' is a symbolic link to a place outside the dataset folder", root=tmp_path)
    os.unlink(folder / "link.npy")
    os.symlink(tmp_path / "outside" / "secret.npy", folder / "embedlens.toml")
    _refuses(folder, r"'embedlens.toml' is a symbolic link to a place outside the dataset folder")
    os.unlink(folder / "embedlens.toml")
    os.symlink(folder / "x.npy", folder / "y.npy")  # a link that stays inside is fine
    assert list(core.load(folder).view_names) == ["x", "y"]
