"""The ``embedlens`` command: ``serve`` the dashboard (the default), compute ``metrics`` without the
UI, write an HTML ``report``.

``embedlens DATA_DIR`` and ``embedlens --port N`` keep meaning ``embedlens serve ...``: a first
argument that is not a command name is the data folder (a data folder literally named
``metrics`` is ``embedlens serve metrics``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from contextlib import ExitStack, contextmanager
from pathlib import Path

__all__ = ["main", "streamlit_command", "COMMANDS"]

COMMANDS = ("serve", "metrics", "report")

_HERE = Path(__file__).resolve().parent
APP = _HERE / "app.py"


def _config_file() -> Path | None:
    for candidate in (_HERE / "streamlit_config.toml", _HERE.parent / ".streamlit" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def _config_flags() -> list[str]:
    """The bundled ``.streamlit/config.toml`` as ``--section.option=value`` flags.

    Streamlit reads ``.streamlit/config.toml`` only from the working directory; flags make
    the installed command behave the same from anywhere.
    """
    path = _config_file()
    if path is None:
        return []
    with open(path, "rb") as fh:
        config = tomllib.load(fh)
    flags = []
    for section, options in config.items():
        for option, value in options.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            flags.append(f"--{section}.{option}={value}")
    return flags


DEFAULT_ADDRESS = "127.0.0.1"


def streamlit_command(port: int = 8501, address: str | None = None) -> list[str]:
    """The ``python -m streamlit run ...`` command line that serves the app.

    Parameters
    ----------
    port : int
        TCP port to listen on.
    address : str, optional
        Interface to bind. Default: the bundled config's ``server.address``, the loopback
        address 127.0.0.1, so nobody else on the network can open the app or upload to it;
        ``"0.0.0.0"`` (every interface) opens it on purpose.

    Returns
    -------
    list of str
        The argv to exec; exactly one ``--server.address`` flag.
    """
    flags = [f for f in _config_flags() if not f.startswith("--server.address=")]
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), *flags, f"--server.port={port}",
           f"--server.address={address or DEFAULT_ADDRESS}"]
    return cmd


def _add_serve(sub) -> None:
    p = sub.add_parser(
        "serve", prog="embedlens [serve]", help="serve the dashboard (the default command)",
        description="Serve EmbedLens on a folder of embedding datasets (default: the bundled samples). "
        "`embedlens DATA_DIR` is the same as `embedlens serve DATA_DIR`.")
    p.add_argument(
        "data_dir", nargs="?", type=Path, metavar="DATA_DIR",
        help="folder of datasets: sub-folders with a metadata file + one file per view, or single "
        "embedding files (default: $EMBEDLENS_DATA, else the bundled sample data)",
    )
    p.add_argument("--port", type=_int_in(1, 65535), default=8501, help="port to serve on (default: 8501)")
    p.add_argument(
        "--address",
        help=f"address to bind (default: {DEFAULT_ADDRESS}, this machine only; 0.0.0.0 serves every "
        "interface, so anyone on the network can open the app and upload files)",
    )
    _add_max_file_mb(p)
    _add_dask(p, "where the app computes on Dask-backed (out-of-core) views: 'local' (default: a "
              "LocalCluster on this machine, started when a page first needs it), a scheduler address "
              "such as tcp://HOST:8786 (a running cluster; its workers need EmbedLens installed), or "
              "'threads' (dask's threads in the server process, no cluster); sets $EMBEDLENS_DASK")
    p.add_argument("--sample-rows", type=_int_in(100, 10_000_000), metavar="N",
                   help="out-of-core datasets (views that are folders of shards): items in the seeded sample "
                   "the pages show (default: 50,000; exact sums over every item run on Dask on request); "
                   "sets $EMBEDLENS_SAMPLE_ROWS")
    p.set_defaults(func=_serve, sub_parser=p)


def _int_in(lo: int, hi: int | None = None):
    """An argparse type: an integer in [lo, hi] (a clear usage error otherwise, never a traceback)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: expected {lo} or more" if hi is None else
                f"{value} is out of range: expected {lo} to {hi}")
        return value
    parse.__name__ = "integer"
    return parse


def _dask_value(text: str) -> str:
    """An argparse type: ``local``, ``threads`` or a scheduler address (a usage error otherwise)."""
    from dashboard.cluster import parse_setting

    try:
        return parse_setting(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_dask_value.__name__ = "Dask setting"


def _add_dask(p, help_text: str) -> None:
    p.add_argument("--dask", type=_dask_value, metavar="ADDRESS", help=help_text)


def _check_dask(args, parser) -> None:
    """``--dask local`` / an address needs distributed: say so before any work."""
    import importlib.util

    from core._dask import INSTALL_HINT

    value = getattr(args, "dask", None)
    if value not in (None, "threads") and importlib.util.find_spec("distributed") is None:
        parser.error(f"--dask {value} needs dask's distributed: {INSTALL_HINT}")
    if value == "threads" and importlib.util.find_spec("dask") is None:
        parser.error(f"--dask threads needs dask: {INSTALL_HINT}")


def _add_max_file_mb(p) -> None:
    p.add_argument(
        "--max-file-mb", type=float,
        help="refuse files larger than this many MB (default: $EMBEDLENS_MAX_FILE_MB, else 8192)",
    )


def _add_dataset_options(p) -> None:
    p.add_argument("path", type=Path, metavar="PATH",
                   help="one dataset: an embedding file or a dataset folder (TensorBoard log, Hugging "
                   "Face save_to_disk folder, Lance table, a folder written by core.writer ...)")
    p.add_argument("--metrics", help="comma-separated metric names (default: all; see the list below)")
    p.add_argument("--views", help="comma-separated view names (default: every view)")
    p.add_argument("--label", help="metadata column of class labels for knn_purity and nc1 (default: the "
                   "first label-like column)")
    p.add_argument("--k", type=_int_in(1), default=10, help="neighbours for hubness and kNN purity (default: 10)")
    p.add_argument("--seed", type=_int_in(0, 2**32 - 1), default=0, help="seed of every sampled step (default: 0)")
    p.add_argument("--drop-nonfinite", action="store_true",
                   help="leave out rows holding NaN / inf (from every view) instead of refusing them")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_max_file_mb(p)
    _add_dask(p, "compute on Dask: 'local' (a LocalCluster on this machine for this run), a scheduler "
              "address such as tcp://HOST:8786 (a running cluster; its workers need EmbedLens installed) "
              "or 'threads' (default: dask's threads, only for Dask-backed data)")


def _metric_list() -> str:
    from core.report import REPORT_METRICS

    return "metrics: " + "; ".join(f"{k} ({v})" for k, v in REPORT_METRICS.items())


def _add_metrics(sub) -> None:
    p = sub.add_parser(
        "metrics", prog="embedlens metrics", help="compute metrics for every view, without the UI (JSON or CSV)",
        description="Compute the chosen metrics for every view of a dataset and write them as JSON "
        "(one object per view, NaN as null, with the parameters and notes) or CSV (one row per view).",
        epilog=_metric_list())
    _add_dataset_options(p)
    p.add_argument("--out", type=Path, help="file to write (default: standard output)")
    p.add_argument("--format", choices=("json", "csv"),
                   help="output format (default: from --out's extension, else json)")
    p.set_defaults(func=_metrics, sub_parser=p)


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report", prog="embedlens report", help="write a one-page HTML report of a dataset's views (opens without a server)",
        description="Write one self-contained HTML file (plotly.js inline) with the metrics table, "
        "metric trajectories over training, and each view's spectrum and map.",
        epilog=_metric_list())
    _add_dataset_options(p)
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    p.add_argument("--map", choices=("pca", "umap", "tsne", "none"), default="pca",
                   help="the map drawn for each view (default: pca; umap / tsne are slower)")
    p.add_argument("--images", choices=("png", "svg"),
                   help="also write every figure as an image beside the report (needs kaleido, the "
                   "`export` extra, and a Chrome or Chromium on this machine)")
    p.set_defaults(func=_report, sub_parser=p)


def build_parser() -> argparse.ArgumentParser:
    """The ``embedlens`` argument parser (a sub-command per :data:`COMMANDS`).

    Returns
    -------
    argparse.ArgumentParser

    Raises
    ------
    Nothing
        Of its own.
    """
    parser = argparse.ArgumentParser(
        prog="embedlens",
        usage="embedlens [serve] [DATA_DIR] [options] | embedlens metrics PATH [options] | "
        "embedlens report PATH --out FILE [options]",
        description="EmbedLens: look inside embeddings. Without a command, serve the dashboard on "
        "DATA_DIR (default: $EMBEDLENS_DATA, else the bundled samples). `embedlens COMMAND --help` "
        "lists every option of a command.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(sub)
    _add_metrics(sub)
    _add_report(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["serve", *argv]  # `embedlens DATA_DIR [--port N]`: today's behaviour
    parser = build_parser()
    args = parser.parse_args(argv)
    args.func(args, args.sub_parser)


def _max_file_mb(args, parser, env: dict) -> None:
    if args.max_file_mb is not None:
        if args.max_file_mb <= 0:
            parser.error("--max-file-mb must be positive")
        env["EMBEDLENS_MAX_FILE_MB"] = str(args.max_file_mb)


def _serve(args, parser) -> None:
    env = dict(os.environ)
    if args.data_dir is not None:
        if not args.data_dir.is_dir():
            parser.error(f"data folder {str(args.data_dir)!r} does not exist or is not a folder")
        env["EMBEDLENS_DATA"] = str(args.data_dir.resolve())
    _max_file_mb(args, parser, env)
    _check_dask(args, parser)
    if args.dask is not None:
        env["EMBEDLENS_DASK"] = args.dask
    if args.sample_rows is not None:
        env["EMBEDLENS_SAMPLE_ROWS"] = str(args.sample_rows)
    cmd = streamlit_command(args.port, args.address)
    host = args.address or DEFAULT_ADDRESS
    where = env.get("EMBEDLENS_DATA", "bundled samples")
    dask = f", dask: {args.dask}" if args.dask is not None else ""
    print(f"EmbedLens: http://{'localhost' if host == DEFAULT_ADDRESS else host}:{args.port}  (data: {where}{dask})",
          flush=True)
    os.execve(sys.executable, cmd, env)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _load_for_command(args, parser):
    """The dataset at ``args.path`` (errors: a message naming the fix, exit status 1).

    The arguments are checked first, so a bad one fails before any loading or computing."""
    import core

    _max_file_mb(args, parser, os.environ)
    _check_dask(args, parser)
    if not args.path.exists():
        parser.error(f"{str(args.path)!r} does not exist")
    out = getattr(args, "out", None)
    if out is not None and not out.resolve().parent.is_dir():
        parser.error(f"--out {str(out)!r}: the folder {str(out.resolve().parent)!r} does not exist")
    if out is not None and out.is_dir():
        parser.error(f"--out {str(out)!r} is a folder; name a file")
    for option in ("metrics", "views"):
        if getattr(args, option) is not None and not _split(getattr(args, option)):
            parser.error(f"--{option} names nothing; leave it out for every {option[:-1]}")
    if not args.quiet:
        print(f"Loading {args.path} ...", file=sys.stderr, flush=True)
    try:
        return core.load(args.path, nonfinite="drop" if args.drop_nonfinite else "error")
    except core.EmbedLensInputError as exc:
        hint = ""
        if args.path.is_dir():
            try:
                names = [e.name for e in core.list_datasets(args.path)]
            except (core.EmbedLensInputError, OSError):
                names = []
            if len(names) > 1:
                hint = (f"\n{str(args.path)!r} looks like a data folder of {len(names)} datasets "
                        f"({', '.join(names[:5])}); pass one of them")
        if isinstance(exc, core.NonFiniteRowsError) and not args.drop_nonfinite:
            hint += "\n--drop-nonfinite leaves those rows out (from every view and the metadata)"
        sys.exit(f"embedlens {args.command_name}: {exc}{hint}")


@contextmanager
def _dask_for(args):
    """The ``--dask`` client open around a command's computation (a failure: one line, exit status 1)."""
    from dashboard.cluster import ClusterUnavailable, command_client

    opened = ExitStack()
    try:
        info = opened.enter_context(command_client(args.dask))
    except ClusterUnavailable as exc:
        sys.exit(f"embedlens {args.command_name}: {exc}")
    with opened:  # closes the client (and a local cluster it started)
        if info is not None and not args.quiet:
            link = f" · dashboard {info.dashboard_link}" if info.dashboard_link else ""
            print(f"Dask: {info.summary}{link}", file=sys.stderr, flush=True)
        yield info


def _compute(args, ds):
    import time

    from tqdm import tqdm

    import core
    from core.report import progress_steps, view_metrics

    metrics, views = _split(args.metrics), _split(args.views)
    start = time.perf_counter()
    with tqdm(total=progress_steps(ds, metrics, views), file=sys.stderr, disable=args.quiet,
              desc=ds.name, unit="metric", dynamic_ncols=True) as bar:
        def step(text: str) -> None:
            bar.set_postfix_str(text[-40:], refresh=False)
            bar.update(1)

        try:
            report = view_metrics(ds, metrics=metrics, views=views, label=args.label, k=args.k,
                                  seed=args.seed, progress=step)
        except core.EmbedLensInputError as exc:
            sys.exit(f"embedlens {args.command_name}: {exc}")
    return report, time.perf_counter() - start


def _metrics(args, parser) -> None:
    import json

    args.command_name = "metrics"
    fmt = args.format or ("csv" if args.out is not None and args.out.suffix.lower() == ".csv" else "json")
    ds = _load_for_command(args, parser)
    with _dask_for(args):
        report, seconds = _compute(args, ds)
    if fmt == "csv":
        text = report.table.to_csv(index=False)
    else:
        text = json.dumps({**report.to_dict(), "path": str(args.path), "seconds": round(seconds, 2)},
                          indent=2, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.exit(f"embedlens metrics: cannot write {str(args.out)!r} ({exc.strerror or exc})")
    if not args.quiet:
        where = f" to {args.out}" if args.out is not None else ""
        print(f"{len(report.table)} views x {len(report.metrics)} metrics in {seconds:.1f} s{where}",
              file=sys.stderr)
        for note in report.notes:
            print(f"note: {note}", file=sys.stderr)


def _report(args, parser) -> None:
    args.command_name = "report"
    ds = _load_for_command(args, parser)
    from dashboard.report import ReportError, write_report

    try:
        with _dask_for(args):
            report, _ = _compute(args, ds)
            written = write_report(ds, args.out, metrics=report, map_method=args.map, images=args.images,
                                   views=_split(args.views), seed=args.seed,
                                   progress=None if args.quiet else lambda t: print(t, file=sys.stderr))
    except ReportError as exc:
        sys.exit(f"embedlens report: {exc}")
    except OSError as exc:
        sys.exit(f"embedlens report: cannot write {str(args.out)!r} ({exc.strerror or exc})")
    if not args.quiet:
        print(f"wrote {written[0]}" + (f" and {len(written) - 1} images" if len(written) > 1 else ""),
              file=sys.stderr)


if __name__ == "__main__":
    main()
