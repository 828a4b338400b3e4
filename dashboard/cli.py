"""``embedlens [DATA_DIR] [--port N]``: serve the dashboard on a data folder."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

__all__ = ["main", "streamlit_command"]

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="embedlens",
        description="Serve EmbedLens on a folder of embedding datasets (default: the bundled samples).",
    )
    parser.add_argument(
        "data_dir",
        nargs="?",
        type=Path,
        help="folder of datasets: sub-folders with a metadata file + one file per view, or single "
        "embedding files (default: $EMBEDLENS_DATA, else the bundled sample data)",
    )
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default: 8501)")
    parser.add_argument(
        "--address",
        help=f"address to bind (default: {DEFAULT_ADDRESS}, this machine only; 0.0.0.0 serves every "
        "interface, so anyone on the network can open the app and upload files)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=float,
        help="refuse files larger than this many MB (default: $EMBEDLENS_MAX_FILE_MB, else 8192)",
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.data_dir is not None:
        if not args.data_dir.is_dir():
            parser.error(f"data folder {str(args.data_dir)!r} does not exist or is not a folder")
        env["EMBEDLENS_DATA"] = str(args.data_dir.resolve())
    if args.max_file_mb is not None:
        if args.max_file_mb <= 0:
            parser.error("--max-file-mb must be positive")
        env["EMBEDLENS_MAX_FILE_MB"] = str(args.max_file_mb)
    cmd = streamlit_command(args.port, args.address)
    host = args.address or DEFAULT_ADDRESS
    where = env.get("EMBEDLENS_DATA", "bundled samples")
    print(f"EmbedLens: http://{'localhost' if host == DEFAULT_ADDRESS else host}:{args.port}  (data: {where})",
          flush=True)
    os.execve(sys.executable, cmd, env)


if __name__ == "__main__":
    main()
