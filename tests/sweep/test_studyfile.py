"""Study files: validation with one-line errors, the paper's defaults, the paired plan."""

from __future__ import annotations

import subprocess

import pytest

from lstm_odyssey.errors import UserError
from lstm_odyssey.records import StorageError, StorageURL, mask_url
from lstm_odyssey.sweep import schema
from lstm_odyssey.sweep.space import PAPER_SPACE, plan_configs
from lstm_odyssey.sweep.studyfile import StudyFileError, load_study, parse_study
from lstm_odyssey.variants import PRESET_NAMES

from .conftest import CLI, study_toml

BASE = {"trials": 2, "tasks": {"jsb": {"size": 2}}}
INF, NAN = float("inf"), float("nan")


def error(data: dict) -> str:
    with pytest.raises(StudyFileError) as e:
        parse_study(data, "s.toml", "s")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("s.toml: ")
    return msg


@pytest.mark.parametrize("data, words", [
    ({**BASE, "trails": 3}, ["unknown key 'trails'", "did you mean 'trials'"]),
    ({**BASE, "protocol": {"max_epoch": 3}}, ["'protocol.max_epoch'", "'protocol.max_epochs'"]),
    ({**BASE, "protocol": {"max_epochs": 0}}, ["'protocol.max_epochs' = 0", "≥ 1"]),
    ({**BASE, "protocol": {"backend": "gpu"}}, ["'protocol.backend'", "'gpu'"]),
    ({**BASE, "space": {"learning_rate": [1e-2, 1e-6]}}, ["'space.learning_rate'", "range"]),
    ({**BASE, "space": {"learning_rate": [0, 1e-2]}}, ["'space.learning_rate'", "range"]),
    ({**BASE, "space": {"one_minus_momentum": [0.1, 2.0]}}, ["'space.one_minus_momentum'"]),
    ({**BASE, "space": {"hidden_size": [4.5, 8]}}, ["'space.hidden_size'", "integers"]),
    ({**BASE, "space": {"momentum": [0, 1]}}, ["unknown key 'space.momentum'"]),
    ({**BASE, "variants": ["V", "NXG"]}, ["unknown variant 'NXG'", "NIG"]),
    ({**BASE, "tasks": {"jsb": {"size": 2, "from": "s"}}}, ["'tasks.jsb.from'", "this study"]),
    ({**BASE, "tasks": {"jsb": {"size": 2, "from": 3}}}, ["'tasks.jsb.from' = 3", "string"]),
    ({**BASE, "tasks": {"jsb": {"size": 2, "form": "x"}}}, ["did you mean 'tasks.jsb.from'"]),
    ({**BASE, "variants": ["V", "vanilla"]}, ["names a variant twice"]),
    ({**BASE, "pruner": "asha"}, ["'pruner'", "median", "hyperband"]),
    ({"trials": 2, "tasks": {"jbs": {}}}, ["unknown task 'tasks.jbs'", "did you mean 'jsb'"]),
    ({"trials": 2, "tasks": {"jsb": {"sise": 2}}}, ["unknown key 'tasks.jsb.sise'"]),
    ({"trials": 2, "tasks": {"jsb": {"size": "huge"}}}, ["'tasks.jsb.size'"]),
    ({"trials": 0, "tasks": {"jsb": {}}}, ["'trials' = 0"]),
    ({"tasks": {"jsb": {}}}, ["no trial count"]),
    ({"trials": 2}, ["no tasks"]),
    ({**BASE, "storage": {"uri": "x"}}, ["unknown key 'storage.uri'", "'storage.url'"]),
    # ranges that draw() cannot sample, and wrong types
    ({**BASE, "space": {"learning_rate": [1e-3, INF]}}, ["'space.learning_rate'", "finite"]),
    ({**BASE, "space": {"learning_rate": [NAN, 1e-2]}}, ["'space.learning_rate'", "finite"]),
    ({**BASE, "space": {"input_noise": [0, INF]}}, ["'space.input_noise'", "finite"]),
    ({**BASE, "space": {"hidden_size": [0, 8]}}, ["'space.hidden_size'", "low ≥ 1"]),
    ({**BASE, "space": {"input_noise": [-1, 1]}}, ["'space.input_noise'", "input_noise=-1"]),
    ({**BASE, "protocol": {"max_epochs": 2.5}}, ["'protocol.max_epochs' = 2.5", "an integer"]),
    ({**BASE, "protocol": {"max_epochs": True}}, ["'protocol.max_epochs' = True", "an integer"]),
    ({**BASE, "protocol": "x"}, ["'protocol' must be a table"]),
    ({**BASE, "protocol": {"init_std": "big"}}, ["'protocol.init_std' = 'big'", "a number"]),
    ({**BASE, "protocol": {"init_std": INF}}, ["'protocol.init_std' = inf", "> 0"]),
    ({**BASE, "protocol": {"time_budget_s": NAN}}, ["'protocol.time_budget_s' = nan"]),
    ({**BASE, "protocol": {"backend": 3}}, ["'protocol.backend' = 3", "a string"]),
    ({**BASE, "variants": [1]}, ["'variants' = [1]", "strings"]),
    ({"trials": 2, "tasks": {"jsb": {"protocol": {"patience": 1.5}}}},
     ["'tasks.jsb.protocol.patience' = 1.5", "an integer"]),
])
def test_bad_study_files_name_the_key(data: dict, words: list[str]) -> None:
    msg = error(data)
    for w in words:
        assert w in msg, msg


def test_every_accepted_range_can_be_drawn() -> None:
    """The edges that validation accepts plan without error ([1e-3, inf] once passed
    validation and then overflowed in draw)."""
    space = {"hidden_size": [1, 1], "learning_rate": [1e-300, 1e300],
             "one_minus_momentum": [1e-9, 1.0], "input_noise": [0, 0]}
    spec = parse_study({**BASE, "space": space}, "s.toml", "s")
    for c in plan_configs(spec.space, 0, "jsb", 50):
        spec.train_config(spec.tasks[0], "V", c.params, c.seed, c.config_id)


def test_not_toml_and_missing_file(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("trials = [1,\n")
    with pytest.raises(StudyFileError, match="not valid TOML"):
        load_study(bad)
    with pytest.raises(FileNotFoundError):
        load_study(tmp_path / "none.toml")


def test_defaults_are_the_paper() -> None:
    spec = parse_study(BASE, "s.toml", "s")
    assert spec.variants == PRESET_NAMES and spec.paper_mode
    assert spec.space == PAPER_SPACE
    assert (PAPER_SPACE["hidden_size"].low, PAPER_SPACE["hidden_size"].high) == (20, 200)
    assert (PAPER_SPACE["learning_rate"].low, PAPER_SPACE["learning_rate"].high) == (1e-6, 1e-2)
    cfg = spec.train_config(spec.tasks[0], "V", {**{p: 0.5 for p in schema.PARAMS},
                                                 schema.HIDDEN_SIZE: 50}, 1, 0)
    assert (cfg.max_epochs, cfg.patience, cfg.batch_size, cfg.threads) == (150, 15, 1, 1)
    assert cfg.momentum == pytest.approx(0.5)


def test_plan_is_paired_seeded_prefix_stable_and_in_range() -> None:
    a = plan_configs(PAPER_SPACE, 3, "jsb", 200)
    assert a == plan_configs(PAPER_SPACE, 3, "jsb", 200)       # rerun: identical
    assert a[:50] == plan_configs(PAPER_SPACE, 3, "jsb", 50)   # more trials only append
    assert a != plan_configs(PAPER_SPACE, 4, "jsb", 200)
    assert len({c.seed for c in a}) == 200
    hidden = [c.params["hidden_size"] for c in a]
    assert min(hidden) >= 20 and max(hidden) <= 200 and all(isinstance(h, int) for h in hidden)
    # log-uniform: about half of the samples below the geometric mean of the range
    below = sum(c.params["learning_rate"] < 1e-4 for c in a)
    assert 70 < below < 130
    noise = [c.params["input_noise"] for c in a]
    assert 0 <= min(noise) and max(noise) <= 1 and 0.4 < sum(noise) / 200 < 0.6


def test_unreachable_storage_is_one_line_without_password() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(StorageError) as e:
        StorageURL.parse(url).open(create=True)
    msg = str(e.value)
    assert "\n" not in msg and "s3cret" not in msg and "127.0.0.1" in msg
    assert mask_url(url) == "postgresql://postgres:***@127.0.0.1:1/nowhere"
    with pytest.raises(UserError, match="unsupported scheme"):
        StorageURL.parse("redis://localhost/0")


def test_cli_prints_one_line_errors(tmp_path) -> None:
    study = tmp_path / "s.toml"
    study.write_text("epochs = 3\n" + study_toml())
    out = subprocess.run([*CLI, "sweep", str(study)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "unknown key 'epochs'" in out.stderr and "Traceback" not in out.stderr
    study.write_text(study_toml())
    out = subprocess.run([*CLI, "sweep", str(study), "--storage",
                          "postgresql://postgres:hunter2@127.0.0.1:1/x"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "hunter2" not in out.stderr + out.stdout and "***" in out.stderr


@pytest.mark.parametrize("table, words", [
    ("[analysis]\nalpah = 0.05", "did you mean 'analysis.alpha'?"),
    ("[analysis]\nreference = \"W\"", "reference"),
    ("[analysis.margin]\njsb = -1", "margin"),
])
def test_a_bad_analysis_table_stops_the_sweep_before_it_plans(tmp_path, table, words) -> None:
    path = tmp_path / "t.toml"
    journal = tmp_path / "journal.log"
    path.write_text(study_toml(extra=table, storage=str(journal)))
    out = subprocess.run([*CLI, "sweep", str(path)], capture_output=True, text=True,
                         check=False, cwd=tmp_path)
    assert out.returncode != 0 and words in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")
    assert not journal.exists()  # nothing was planned
