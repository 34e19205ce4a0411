"""One error hierarchy: bad input of every kind is a NasrlError (a ValueError) with one line,
and callers can tell its kinds apart."""

import pytest

from nasrl.cli import main
from nasrl.errors import ArchitectureError, NasrlError, ResultsError, StateError
from nasrl.own_data.errors import DataError
from nasrl.search.registry import load_strategy


def test_every_kind_is_a_nasrl_error_and_a_value_error():
    for kind in (ArchitectureError, ResultsError, StateError, DataError):
        assert issubclass(kind, NasrlError) and issubclass(kind, ValueError)
    assert not issubclass(StateError, ArchitectureError)  # a missing state file is not a malformed architecture


def test_a_missing_controller_state_is_a_state_error(tmp_path):
    with pytest.raises(StateError, match=r"controller state file not found: .*round_0003\.pt"):
        load_strategy(tmp_path / "round_0003.pt")


def test_a_missing_results_folder_is_one_line_from_the_command_line(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder; expected a search's results folder" in err
    with pytest.raises(ResultsError):
        from nasrl.commands.arguments import resolve_architecture

        resolve_architecture(tmp_path / "missing.json")


def test_a_bad_setting_is_a_settings_error_in_one_line():
    from nasrl.errors import SettingsError
    from nasrl.settings import ChildConfig

    with pytest.raises(SettingsError, match=r"^child\.optimizer\.lr: .*got 'fast'$"):
        ChildConfig.from_dict({"optimizer": {"lr": "fast"}})
