import pytest

from nasrl.architecture import ArchitectureError
from nasrl.spaces import build_space, load_space


def test_issue_example_space_builds_and_keys(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "decisions:\n"
        '  - {name: l0, choices: ["0", "1", "2"]}\n'
        '  - {name: l1, choices: ["0", "1", "2"]}\n'
        '  - {name: l2, choices: ["0", "1", "2"]}\n'
        'key: "{l0}{l1}{l2}"\n'
    )
    space = load_space(path, default_type="tabular")
    steps = space.steps()
    arch = space.decode(steps, [2, 0, 1])
    assert arch == {"space": "tabular", "decisions": {"l0": "2", "l1": "0", "l2": "1"}}
    assert space.table_key(arch) == "201"
    assert space.validate(arch) == arch
    assert space.decision_kinds() == {"l0": 3, "l1": 3, "l2": 3}


def test_shared_kind_shares_a_head():
    space = build_space({"type": "tabular", "key": "{a}-{b}", "decisions": [
        {"name": "a", "choices": [1, 2], "kind": "op"}, {"name": "b", "choices": [3, 4], "kind": "op"}]})
    assert space.decision_kinds() == {"op": 2}
    assert space.table_key(space.decode(space.steps(), [1, 0])) == "2-3"


@pytest.mark.parametrize("spec, message", [
    ({"decisions": [{"name": "a", "choices": ["x"]}], "key": "{b}"}, r"key: field \{b\} is not a decision name"),
    ({"decisions": [{"name": "a", "choices": ["x"]}], "key": "{a.__class__}"}, r"field \{a.__class__\} is not a decision name"),
    ({"decisions": [{"name": "a", "choices": []}], "key": "{a}"}, r"decisions\[0\]\.choices: expected a non-empty list"),
    ({"decisions": [{"name": "a", "choices": ["x"], "size": 1}], "key": "{a}"}, r"decisions\[0\]: unknown key\(s\) \['size'\]"),
    ({"decisions": [{"name": "a", "choices": ["x"]}, {"name": "a", "choices": ["y"]}], "key": "{a}"}, r"names must be distinct"),
])
def test_bad_tabular_specs_name_the_problem(spec, message):
    with pytest.raises(ArchitectureError, match=message):
        build_space({"type": "tabular", **spec})


def test_out_of_space_value_is_named(tiny_tabular):
    with pytest.raises(ArchitectureError, match=r"architecture\.decisions\.l1: '7' is not one of \['0', '1', '2'\]"):
        tiny_tabular.validate({"space": "tabular", "decisions": {"l0": "0", "l1": "7", "l2": "0"}})
    with pytest.raises(ArchitectureError, match=r"architecture\.decisions\.l2: missing"):
        tiny_tabular.validate({"space": "tabular", "decisions": {"l0": "0", "l1": "1"}})
