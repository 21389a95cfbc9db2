"""``roma-bench info`` reports versions, devices and what is registered."""

import json

from roma_bench.cli import main


def test_info_json_lists_versions_and_registry(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["versions"]["torch"].startswith("2.2.1")
    assert info["versions"]["dgl"] == "2.1.0"
    assert "cpu" in info["torch_devices"]
    assert "km-tiny" in info["tasks"]
    assert isinstance(info["models"], list)


def test_help_lists_commands(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "info" in capsys.readouterr().out
