"""CellSpec: presets, parsing, canonical names, contradictions, parameter counts."""

import pytest

from lstm_odyssey.variants import PRESET_NAMES, PRESETS, CellSpec, SpecError, count_parameters


def test_presets_are_one_change_from_vanilla():
    vanilla = CellSpec()
    assert PRESETS["V"] == vanilla == CellSpec.parse("vanilla")
    for name in PRESET_NAMES[1:]:
        spec = PRESETS[name]
        changed = [f for f in vars(vanilla) if getattr(spec, f) != getattr(vanilla, f)]
        assert len(changed) == 1, (name, changed)
        assert spec.name == name


def test_structure_of_each_preset():
    assert PRESETS["V"].blocks == ("i", "f", "o", "z")
    assert PRESETS["NIG"].blocks == ("f", "o", "z")
    assert PRESETS["NFG"].blocks == ("i", "o", "z")
    assert PRESETS["NOG"].blocks == ("i", "f", "z")
    assert PRESETS["CIFG"].blocks == ("i", "o", "z")
    assert PRESETS["CIFG"].peephole_gates == ("i", "o")
    assert PRESETS["NP"].peephole_gates == ()
    assert PRESETS["FGR"].gates == ("i", "f", "o")


@pytest.mark.parametrize("text,expected", [
    ("cifg+np", CellSpec(coupled_input_forget=True, peepholes=False)),
    ("NP + CIFG", CellSpec(coupled_input_forget=True, peepholes=False)),
    ("Vanilla", CellSpec()),
    ("noaf+niaf", CellSpec(input_activation="identity", output_activation="identity")),
    ("fgr+nog", CellSpec(full_gate_recurrence=True, output_gate=False)),
])
def test_parse_combinations(text, expected):
    spec = CellSpec.parse(text)
    assert spec == expected
    assert CellSpec.parse(spec.name) == spec  # the canonical name round-trips
    assert CellSpec.parse(text.upper()) == spec


def test_canonical_name_is_order_independent():
    assert CellSpec.parse("np+cifg").name == CellSpec.parse("cifg+np").name == "NP+CIFG"


@pytest.mark.parametrize("text,words", [
    ("cifg+nig", ["CIFG", "NIG"]),
    ("cifg+nfg", ["CIFG", "NFG"]),
    ("nig+nfg+nog+fgr", ["FGR", "gate"]),
])
def test_contradictions_are_rejected_with_a_reason(text, words):
    with pytest.raises(SpecError) as err:
        CellSpec.parse(text)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_unknown_name_lists_valid_ones():
    with pytest.raises(SpecError) as err:
        CellSpec.parse("cifg+peephole")
    msg = str(err.value)
    assert "'peephole'" in msg
    for name in PRESET_NAMES:
        assert name in msg


def test_bad_activation():
    with pytest.raises(SpecError, match="relu"):
        CellSpec(input_activation="relu")


@pytest.mark.parametrize("m,n", [(39, 100), (88, 20), (4, 200)])
def test_parameter_counts_closed_form(m, n):
    full = 4 * n * (m + n + 1)
    three = 3 * n * (m + n + 1)
    expected = {
        "V": full + 3 * n,
        "NIG": three + 2 * n,
        "NFG": three + 2 * n,
        "NOG": three + 2 * n,
        "NIAF": full + 3 * n,
        "NOAF": full + 3 * n,
        "NP": full,
        "CIFG": three + 2 * n,
        "FGR": full + 3 * n + 9 * n * n,
    }
    for name, count in expected.items():
        assert count_parameters(name, m, n) == count, name


def test_parameter_count_layers_and_directions():
    m, n = 10, 7
    layer1 = 4 * n * (m + n + 1) + 3 * n
    layer2 = 4 * n * (2 * n + n + 1) + 3 * n
    assert count_parameters("V", m, n, num_layers=2, bidirectional=True) == 2 * (layer1 + layer2)
