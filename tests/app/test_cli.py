"""The `embedlens` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dashboard import cli


def test_bundled_config_becomes_flags():
    flags = cli._config_flags()
    assert "--server.headless=true" in flags
    assert "--browser.gatherUsageStats=false" in flags
    assert any(f.startswith("--server.maxUploadSize=") for f in flags)


def test_command_runs_the_app_on_the_port():
    cmd = cli.streamlit_command(8600, "127.0.0.1")
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    assert cmd[-2:] == ["--server.port=8600", "--server.address=127.0.0.1"]


def test_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([str(tmp_path / "nope")])
    assert info.value.code == 2
    assert "does not exist or is not a folder" in capsys.readouterr().err


def test_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "dashboard.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "DATA_DIR" in out.stdout.upper()


def test_kind_network_exposure_default_address_is_loopback():
    cmd = cli.streamlit_command(8600)
    assert [f for f in cmd if f.startswith("--server.address")] == ["--server.address=127.0.0.1"]
    opened = cli.streamlit_command(8600, "0.0.0.0")
    assert [f for f in opened if f.startswith("--server.address")] == ["--server.address=0.0.0.0"]
