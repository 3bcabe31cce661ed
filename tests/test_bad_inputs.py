"""The bad-input table: every bad study-file value, command-line
option, storage URL and corpus path we could think of, through the real ``lstm-odyssey``
command line. Each case must exit with status 2 and print exactly one line on stderr, naming the
offending key, option or path, and no traceback anywhere.

A fresh Python process costs about 2 s here (torch), too much for one per case, so all cases run
in ONE fresh process (``python tests/test_bad_inputs.py``, see :func:`_drive`): it calls the
command's real entry point ``lstm_odyssey.cli.main`` once per case, with the case's argv, in its
own working folder, with file descriptors 1 and 2 redirected to files, so what is asserted is
what a terminal would show (logging handlers and C code included). Each case is still its own
test. :func:`test_cases_print_the_same_in_their_own_process` reruns a sample of the cases as
separate ``lstm-odyssey`` processes and checks that they print exactly the same.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

COMMAND = str(Path(sys.executable).with_name("lstm-odyssey"))  # the installed entry point
CASE_TIMEOUT_S = 120


@dataclass(frozen=True)
class Case:
    """One bad input: ``lstm-odyssey *argv`` must fail naming ``expect``.

    In ``argv`` and ``expect``, ``{root}`` is the folder with the shared files of
    :func:`_shared_files` and ``{case}`` the case's own working folder; ``study`` (if given) is
    written to ``{case}/bad.toml``; ``never_creates`` names a file the case must not create
    (the side effect of a crafted pickle)."""

    id: str
    argv: tuple[str, ...]
    expect: str
    study: str | None = None
    never_creates: str | None = None

    def resolve(self, root: Path) -> tuple[list[str], str, Path]:
        """(argv, expected text, working folder) of the case under ``root``."""
        case = root / "cases" / self.id
        return [fill(a, root, case) for a in self.argv], fill(self.expect, root, case), case


def fill(text: str, root: Path, case: Path) -> str:
    """``text`` with ``{root}`` and ``{case}`` replaced."""
    return text.replace("{root}", str(root)).replace("{case}", str(case))


def study(top: dict[str, str | None] | None = None, task: str = "size = 2", body: str = "") -> str:
    """A tiny valid study file with ``top`` lines replaced (None drops one), the [tasks.jsb]
    table's body ``task`` and more tables ``body``."""
    lines = {"trials": "1", "variants": '["V"]', **(top or {})}
    head = "".join(f"{k} = {v}\n" for k, v in lines.items() if v is not None)
    return f"{head}\n[tasks.jsb]\n{task}\n{body}"


GOOD = study(body='[protocol]\nmax_epochs = 1\nbackend = "reference"\n')
# A pickle whose GLOBAL opcode names a module that does not exist.
MISSING_MODULE_PICKLE = b"cno_such_module_xyz\nthing\n(tR."
# A pickle that would create this file if it were loaded with pickle.load.
PWNED = "{case}/pwned"


def _shared_files(root: Path) -> None:
    """The files the cases share: a file and an empty folder (each where the other belongs),
    broken pickles, a valid study file, a corrupt journal and a study file that is not UTF-8."""
    (root / "a_file.txt").write_text("not a corpus\n")
    (root / "a_folder").mkdir()
    (root / "garbage.pickle").write_bytes(os.urandom(64))
    (root / "missing_module.pickle").write_bytes(MISSING_MODULE_PICKLE)
    (root / "good.toml").write_text(GOOD)
    (root / "garbage.log").write_text('{"op_code": 0, "worker_id": "x"\n not json at all\n')
    (root / "not_utf8.toml").write_bytes(b"trials = 1\n\xff\xfe = 2\n")
    # JSON, but not an Optuna journal: another op code, not an object, a record without its
    # worker, a line of text
    (root / "op99.log").write_text('{"op_code": 99}\n')
    (root / "a_list.log").write_text("[1, 2, 3]\n")
    (root / "no_worker.log").write_text(
        '{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}\n'
        '{"op_code": 4, "study_id": 0, "datetime_start": "2024-01-01T00:00:00.000000"}\n')
    (root / "text.log").write_text("my notes, not a journal\n")
    (root / "late_op99.log").write_text(
        '{"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}\n'
        '{"op_code": 99, "worker_id": "w"}\n')


def sweep(text: str, expect: str, id: str) -> Case:
    """A bad study file run by ``lstm-odyssey sweep``."""
    return Case(id, ("sweep", "{case}/bad.toml", "--no-progress"), expect, study=text)


def xfail(case: Case, owner: str) -> pytest.param:
    return pytest.param(case, id=case.id, marks=pytest.mark.xfail(strict=True, reason=owner))


SPACE = "[space]\n"
PROTO = "[protocol]\n"
STORE = "[storage]\n"
TRAIN = ("train", "--task", "jsb", "--hidden", "4", "--lr", "0.1", "--momentum", "0.5")
GOOD_SWEEP = ("sweep", "{root}/good.toml", "--no-progress")

CASES = [
    # -- the study file: top-level keys -------------------------------------------------------
    sweep(study({"epochs": "3"}), "'epochs'", "unknown-top-key"),
    sweep(study({"trails": "3"}), "did you mean 'trials'", "misspelt-top-key"),
    sweep(study({"name": "5"}), "'name'", "name-not-a-string"),
    sweep(study({"name": '"a/b"'}), "'name'", "name-with-slash"),
    sweep(study({"name": '""'}), "'name'", "name-empty"),
    sweep(study({"seed": "-1"}), "'seed'", "seed-negative"),
    sweep(study({"seed": '"0"'}), "'seed'", "seed-a-string"),
    sweep(study({"seed": "1.5"}), "'seed'", "seed-a-float"),
    sweep(study({"trials": "0"}), "'trials'", "trials-zero"),
    sweep(study({"trials": "1.5"}), "'trials'", "trials-a-float"),
    sweep(study({"trials": "true"}), "'trials'", "trials-a-bool"),
    sweep(study({"trials": None}), "'trials'", "no-trial-count"),
    sweep(study({"variants": '"V"'}), "'variants'", "variants-a-string"),
    sweep(study({"variants": "[]"}), "'variants'", "variants-empty"),
    sweep(study({"variants": '["NXG"]'}), "'NXG'", "variant-unknown"),
    sweep(study({"variants": "[1]"}), "'variants'", "variant-not-a-string"),
    sweep(study({"variants": '["V", "vanilla"]'}), "'variants'", "variant-twice"),
    sweep(study({"pruner": '"asha"'}), "'pruner'", "pruner-unknown"),
    sweep(study({"pruner": "1"}), "'pruner'", "pruner-a-number"),
    sweep(study({"protocol": "3"}), "'protocol'", "protocol-not-a-table"),
    sweep(study({"space": "[1, 2]"}), "'space'", "space-not-a-table"),
    sweep(study({"storage": '"x"'}), "'storage'", "storage-not-a-table"),
    sweep('trials = 1\nvariants = ["V"]\ntasks = "jsb"\n', "tasks", "tasks-not-a-table"),
    sweep('trials = 1\nvariants = ["V"]\n', "tasks", "no-tasks"),
    # -- [protocol] ---------------------------------------------------------------------------
    sweep(study(body=PROTO + "max_epoch = 3\n"), "'protocol.max_epoch'", "protocol-unknown-key"),
    sweep(study(body=PROTO + "max_epochs = 0\n"), "'protocol.max_epochs'", "max_epochs-zero"),
    sweep(study(body=PROTO + "max_epochs = 2.5\n"), "'protocol.max_epochs'", "max_epochs-2.5"),
    sweep(study(body=PROTO + "max_epochs = 1.5\n"), "'protocol.max_epochs'", "max_epochs-1.5"),
    sweep(study(body=PROTO + 'max_epochs = "3"\n'), "'protocol.max_epochs'",
          "max_epochs-a-string"),
    sweep(study(body=PROTO + "max_epochs = true\n"), "'protocol.max_epochs'",
          "max_epochs-a-bool"),
    sweep(study(body=PROTO + "patience = 1.5\n"), "'protocol.patience'", "patience-a-float"),
    sweep(study(body=PROTO + "patience = 0\n"), "'protocol.patience'", "patience-zero"),
    sweep(study(body=PROTO + "batch_size = 0\n"), "'protocol.batch_size'", "batch_size-zero"),
    sweep(study(body=PROTO + "batch_size = [1]\n"), "'protocol.batch_size'",
          "batch_size-a-list"),
    sweep(study(body=PROTO + "eval_batch_size = -3\n"), "'protocol.eval_batch_size'",
          "eval_batch_size-negative"),
    sweep(study(body=PROTO + "init_std = 0\n"), "'protocol.init_std'", "init_std-zero"),
    sweep(study(body=PROTO + 'init_std = "big"\n'), "'protocol.init_std'", "init_std-a-string"),
    sweep(study(body=PROTO + "init_std = inf\n"), "'protocol.init_std'", "init_std-inf"),
    sweep(study(body=PROTO + "time_budget_s = -1\n"), "'protocol.time_budget_s'",
          "time_budget-negative"),
    sweep(study(body=PROTO + "time_budget_s = nan\n"), "'protocol.time_budget_s'",
          "time_budget-nan"),
    sweep(study(body=PROTO + 'backend = "gpu"\n'), "'protocol.backend'", "backend-unknown"),
    sweep(study(body=PROTO + "backend = 3\n"), "'protocol.backend'", "backend-a-number"),
    # -- [space] ------------------------------------------------------------------------------
    sweep(study(body=SPACE + "learning_rate = [1e-3, inf]\n"), "'space.learning_rate'",
          "lr-range-inf"),
    sweep(study(body=SPACE + "learning_rate = [nan, 1e-2]\n"), "'space.learning_rate'",
          "lr-range-nan"),
    sweep(study(body=SPACE + "learning_rate = [1e-2, 1e-6]\n"), "'space.learning_rate'",
          "lr-range-reversed"),
    sweep(study(body=SPACE + "learning_rate = [0, 1e-2]\n"), "'space.learning_rate'",
          "lr-range-log-zero"),
    sweep(study(body=SPACE + "learning_rate = [-1, 1e-2]\n"), "'space.learning_rate'",
          "lr-range-negative"),
    sweep(study(body=SPACE + 'learning_rate = "1e-3"\n'), "'space.learning_rate'",
          "lr-range-a-string"),
    sweep(study(body=SPACE + "learning_rate = [1e-3]\n"), "'space.learning_rate'",
          "lr-range-one-bound"),
    sweep(study(body=SPACE + "learning_rate = [1e-3, true]\n"), "'space.learning_rate'",
          "lr-range-a-bool"),
    sweep(study(body=SPACE + "hidden_size = [4.5, 8]\n"), "'space.hidden_size'",
          "hidden-range-float"),
    sweep(study(body=SPACE + "hidden_size = [0, 8]\n"), "'space.hidden_size'",
          "hidden-range-zero"),
    sweep(study(body=SPACE + "one_minus_momentum = [0.1, 2.0]\n"),
          "'space.one_minus_momentum'", "momentum-range-above-1"),
    sweep(study(body=SPACE + "one_minus_momentum = [0, 0.5]\n"),
          "'space.one_minus_momentum'", "momentum-range-log-zero"),
    sweep(study(body=SPACE + "input_noise = [0, inf]\n"), "'space.input_noise'",
          "noise-range-inf"),
    sweep(study(body=SPACE + "input_noise = [-1, 1]\n"), "'space.input_noise'",
          "noise-range-negative"),
    sweep(study(body=SPACE + "momentum = [0, 1]\n"), "'space.momentum'", "space-unknown-key"),
    # -- [tasks.*] ----------------------------------------------------------------------------
    sweep(study(task="size = 2").replace("tasks.jsb", "tasks.jbs"), "'tasks.jbs'",
          "task-unknown"),
    sweep(study(task="sise = 2"), "'tasks.jsb.sise'", "task-unknown-key"),
    sweep(study(task='size = "huge"'), "'tasks.jsb.size'", "task-size-a-word"),
    sweep(study(task="size = 0"), "'tasks.jsb.size'", "task-size-zero"),
    sweep(study(task="size = 2.5"), "'tasks.jsb.size'", "task-size-a-float"),
    sweep(study(task="size = true"), "'tasks.jsb.size'", "task-size-a-bool"),
    sweep(study(task="size = 2\ndata_seed = -1"), "'tasks.jsb.data_seed'", "data_seed-negative"),
    sweep(study(task="size = 2\ndata_seed = 1.5"), "'tasks.jsb.data_seed'", "data_seed-float"),
    sweep(study(task="size = 2\ntrials = 0"), "'tasks.jsb.trials'", "task-trials-zero"),
    sweep(study(task="size = 2\ntrials = 2.5"), "'tasks.jsb.trials'", "task-trials-float"),
    sweep(study(task="size = 2\nprotocol = 3"), "'tasks.jsb.protocol'",
          "task-protocol-not-a-table"),
    sweep(study(task="size = 2\nprotocol = { max_epochs = 1.5 }"),
          "'tasks.jsb.protocol.max_epochs'", "task-protocol-max_epochs-1.5"),
    sweep(study(task="size = 2\nprotocol = { epochs = 3 }"), "'tasks.jsb.protocol.epochs'",
          "task-protocol-unknown-key"),
    sweep(study(task="size = 2\npath = 5"), "'tasks.jsb.path'", "task-path-a-number"),
    sweep(study(task="").replace("tasks.jsb", "tasks.timit"), "'tasks.timit.path'",
          "real-task-without-path"),
    sweep(study(task='path = "{root}/no_such_corpus"').replace("tasks.jsb", "tasks.timit"),
          "{root}/no_such_corpus", "real-task-path-missing"),
    sweep(study(task='path = "{root}/a_file.txt"').replace("tasks.jsb", "tasks.timit"),
          "{root}/a_file.txt", "real-task-path-a-file"),
    # -- [storage] ----------------------------------------------------------------------------
    sweep(study(body=STORE + 'uri = "x"\n'), "'storage.uri'", "storage-unknown-key"),
    sweep(study(body=STORE + "url = 5\n"), "'storage.url'", "storage-url-a-number"),
    sweep(study(body=STORE + 'url = ""\n'), "'storage.url'", "storage-url-empty"),
    sweep(study(body=STORE + 'url = "mysql://x"\n'), "mysql", "storage-url-mysql"),
    sweep(study(body=STORE + "heartbeat_interval = 0\n"), "'storage.heartbeat_interval'",
          "heartbeat-zero"),
    sweep(study(body=STORE + "grace_period = 1.5\n"), "'storage.grace_period'",
          "grace-period-float"),
    # -- the study file itself ----------------------------------------------------------------
    sweep("trials = [1,\n", "not valid TOML", "toml-malformed"),
    sweep("trials = 1\ntrials = 2\n", "not valid TOML", "toml-duplicate-key"),
    Case("toml-not-utf8", ("sweep", "{root}/not_utf8.toml"), "not_utf8.toml"),
    Case("study-file-missing", ("sweep", "{case}/none.toml"), "none.toml"),
    Case("study-file-a-folder", ("sweep", "{root}/a_folder"), "a_folder"),
    Case("status-study-file-missing", ("status", "{case}/none.toml"), "none.toml"),
    Case("worker-study-file-missing", ("worker", "{case}/none.toml"), "none.toml"),
    Case("status-bad-study", ("status", "{root}/not_utf8.toml"), "not_utf8.toml"),
    # -- --storage URLs -----------------------------------------------------------------------
    Case("storage-mysql", (*GOOD_SWEEP, "--storage", "mysql://x"), "mysql"),
    Case("storage-redis", (*GOOD_SWEEP, "--storage", "redis://localhost/0"), "redis"),
    Case("storage-postgres-unreachable",
         (*GOOD_SWEEP, "--storage", "postgresql://nouser@127.0.0.1:1/x"), "127.0.0.1:1"),
    Case("storage-journal-under-a-file",
         (*GOOD_SWEEP, "--storage", "{root}/a_file.txt/journal.log"), "a_file.txt"),
    Case("storage-sqlite-under-a-file",
         (*GOOD_SWEEP, "--storage", "sqlite:///{root}/a_file.txt/sub/x.db"), "a_file.txt"),
    Case("status-storage-mysql", ("status", "{root}/good.toml", "--storage", "mysql://x"),
         "mysql"),
    Case("status-journal-corrupt", ("status", "{root}/good.toml", "--storage",
                                    "{root}/garbage.log"), "garbage.log"),
    Case("worker-storage-redis", ("worker", "{root}/good.toml", "--storage", "redis://x"),
         "redis"),
    Case("analyze-storage-mysql", ("analyze", "--storage", "mysql://x"), "mysql"),
    Case("analyze-journal-corrupt", ("analyze", "--storage", "{root}/garbage.log"),
         "garbage.log"),
    Case("report-storage-mysql", ("report", "--storage", "mysql://x", "-o", "{case}/r"),
         "mysql"),
    Case("report-target-missing", ("report", "{case}/nowhere.toml"), "nowhere.toml"),
    Case("report-no-storage", ("report",), "--storage"),
    Case("report-folder-without-journal", ("report", "{root}/a_folder"), "a_folder"),
    Case("report-out-a-file", ("report", "--storage", "{case}/j.log", "-o",
                               "{root}/a_file.txt"), "a_file.txt"),
    Case("repair-journal-missing", ("repair-journal", "{case}/none.log"), "none.log"),
    Case("repair-journal-out-exists", ("repair-journal", "{root}/garbage.log", "-o",
                                       "{root}/a_file.txt"), "a_file.txt"),
    Case("analyze-journal-missing", ("analyze", "--storage", "{case}/none.log"), "none.log"),
    Case("status-storage-empty", ("status", "{root}/good.toml", "--storage", "{case}/new.log"),
         "new.log"),
    Case("synthetic-trials-zero", ("synthetic-study", "--storage", "{case}/s.log", "--trials",
                                   "0"), "--trials"),
    Case("dashboard-port-a-word", ("dashboard", "--storage", "{case}/j.log", "--port", "abc"),
         "--port"),
    Case("synthetic-storage-mysql", ("synthetic-study", "--storage", "mysql://x"), "mysql"),
    Case("dashboard-storage-redis", ("dashboard", "--storage", "redis://x"), "redis"),
    # -- sweep / worker / status options ------------------------------------------------------
    Case("sweep-jobs-zero", (*GOOD_SWEEP, "--jobs", "0"), "--jobs"),
    Case("sweep-jobs-a-word", (*GOOD_SWEEP, "--jobs", "many"), "--jobs"),
    Case("sweep-unknown-option", (*GOOD_SWEEP, "--job", "2"), "--job"),
    Case("sweep-no-study-file", ("sweep",), "STUDY_FILE"),
    Case("unknown-command", ("swep",), "swep"),
    # -- train --------------------------------------------------------------------------------
    Case("train-unknown-task", ("train", *TRAIN[3:], "--task", "jbs"), "jbs"),
    Case("train-hidden-zero", (*TRAIN, "--hidden", "0"), "hidden_size"),
    Case("train-hidden-a-word", (*TRAIN, "--hidden", "x"), "--hidden"),
    Case("train-momentum-one", (*TRAIN, "--momentum", "1.0"), "momentum"),
    Case("train-lr-negative", (*TRAIN, "--lr", "-1"), "learning_rate"),
    Case("train-lr-inf", (*TRAIN, "--lr", "inf"), "learning_rate"),
    Case("train-noise-nan", (*TRAIN, "--noise", "nan"), "input_noise"),
    Case("train-max-epochs-zero", (*TRAIN, "--max-epochs", "0"), "max_epochs"),
    Case("train-max-epochs-float", (*TRAIN, "--max-epochs", "2.5"), "--max-epochs"),
    Case("train-batch-size-zero", (*TRAIN, "--batch-size", "0"), "batch_size"),
    Case("train-threads-zero", (*TRAIN, "--threads", "0"), "threads"),
    Case("train-time-budget-negative", (*TRAIN, "--time-budget", "-1"), "time_budget_s"),
    Case("train-variant-unknown", (*TRAIN, "--variant", "NXG"), "NXG"),
    Case("train-backend-unknown", (*TRAIN, "--backend", "gpu"), "gpu"),
    Case("train-size-a-word", (*TRAIN, "--size", "huge"), "huge"),
    Case("train-missing-required", ("train", "--task", "jsb"), "--hidden"),
    Case("train-real-task-without-path", (*TRAIN, "--task", "timit"), "--path"),
    Case("train-jsb-path-missing", (*TRAIN, "--path", "{case}/none.pickle"), "none.pickle"),
    Case("train-jsb-path-a-folder", (*TRAIN, "--path", "{root}/a_folder"), "a_folder"),
    Case("train-iam-path-a-file", (*TRAIN, "--task", "iam-ondb", "--path", "{root}/a_file.txt"),
         "a_file.txt"),
    # -- data: tasks, options and corpus paths ------------------------------------------------
    Case("data-unknown-task", ("data", "prepare", "jbs"), "jbs"),
    Case("data-iam-without-path", ("data", "prepare", "iam-ondb"), "--path"),
    Case("data-timit-without-path", ("data", "info", "timit"), "--path"),
    Case("data-timit-path-missing", ("data", "prepare", "timit", "--path", "{case}/TIMIT"),
         "{case}/TIMIT"),
    Case("data-timit-path-a-file", ("data", "prepare", "timit", "--path", "{root}/a_file.txt"),
         "a_file.txt"),
    Case("data-timit-path-empty-folder",
         ("data", "prepare", "timit", "--path", "{root}/a_folder"), "a_folder"),
    Case("data-iam-path-a-file",
         ("data", "prepare", "iam-ondb", "--path", "{root}/a_file.txt"), "a_file.txt"),
    Case("data-iam-path-empty-folder",
         ("data", "prepare", "iam-ondb", "--path", "{root}/a_folder"), "a_folder"),
    Case("data-jsb-path-missing", ("data", "prepare", "jsb", "--path", "{case}/jsb.pickle"),
         "jsb.pickle"),
    Case("data-jsb-path-a-folder", ("data", "prepare", "jsb", "--path", "{root}/a_folder"),
         "a_folder"),
    Case("data-jsb-path-garbage", ("data", "prepare", "jsb", "--path",
                                   "{root}/garbage.pickle"), "garbage.pickle"),
    Case("data-jsb-path-evil-pickle", ("data", "prepare", "jsb", "--path",
                                       "{case}/evil.pickle"), "evil.pickle",
         never_creates=PWNED),
    Case("data-jsb-pickle-missing-module",
         ("data", "prepare", "jsb", "--path", "{root}/missing_module.pickle"),
         "missing_module.pickle"),
    Case("data-size-zero", ("data", "prepare", "jsb", "--size", "0"), "size"),
    Case("data-size-a-word", ("data", "info", "jsb", "--size", "lots"), "lots"),
    Case("data-step-unknown", ("data", "prepare", "jsb", "--step", "sixteenth"), "sixteenth"),
    Case("data-phones-unknown", ("data", "info", "timit", "--phones", "40", "--path",
                                 "{root}/a_folder"), "phones=40"),
    Case("data-phones-for-wrong-task", ("data", "prepare", "timit-synth", "--phones", "39"),
         "phones"),
    Case("data-phones-a-word", ("data", "prepare", "timit-synth", "--phones", "many"),
         "--phones"),
    Case("data-step-for-wrong-task", ("data", "prepare", "timit-synth", "--step", "quarter"),
         "step"),
    Case("data-show-split-unknown", ("data", "show", "jsb", "-o", "{case}/x.png", "--split",
                                     "training"), "--split"),
    Case("data-show-without-out", ("data", "show", "jsb"), "--out"),
    Case("data-show-out-txt", ("data", "show", "jsb", "-o", "{case}/x.txt"),
         "x.txt"),
    Case("data-show-out-under-a-file",
         ("data", "show", "jsb", "-o", "{root}/a_file.txt/x.png"), "a_file.txt"),
    Case("data-show-index-out-of-range",
         ("data", "show", "jsb", "--index", "100000", "-o", "{case}/x.png"), "100000"),
    Case("data-show-index-negative", ("data", "show", "jsb", "--index", "-1", "-o",
                                      "{case}/x.png"), "-1"),
    Case("data-size-a-float", ("data", "info", "timit-synth", "--size", "2.5"), "2.5"),
    # -- bench, variants, build-kernels -------------------------------------------------------
    Case("bench-repeats-zero", ("bench", "kernels", "--repeats", "0"), "--repeats"),
    Case("bench-threads-zero", ("bench", "kernels", "--threads", "0"), "--threads"),
    Case("bench-device-unknown", ("bench", "kernels", "--device", "tpu"), "--device"),
    Case("bench-shape-three-numbers", ("bench", "kernels", "--shape", "1,2,3"), "1,2,3"),
    Case("bench-shape-zero", ("bench", "kernels", "--shape", "0,1,2,3"), "0,1,2,3"),
    Case("bench-variant-unknown", ("bench", "kernels", "--variant", "NXG"), "NXG"),
    Case("variants-hidden-zero", ("variants", "--hidden", "0"), "--hidden"),
    Case("variants-input-size-a-word", ("variants", "--input-size", "x"), "--input-size"),
    Case("build-kernels-unknown-option", ("build-kernels", "--cleen"), "--cleen"),
]
# -- values that would fail every trial or hang, refused before planning ----------------------
JOURNALS = ("op99", "a_list", "no_worker", "text", "late_op99")
CASES += [
    sweep(study({"seed": "9223372036854775807"}), "'seed'", "seed-beyond-2**32"),
    sweep(study({"name": '"' + "a" * 300 + '"'}), "'name'", "name-300-characters"),
    sweep(study({"name": '"a\\u0000b"'}), "'name'", "name-with-nul"),
    sweep(study({"name": '"a\\nb"'}), "'name'", "name-with-newline"),
    sweep(study({"name": '".."'}), "'name'", "name-dot-dot"),
    sweep(study({"trials": "9223372036854775807"}), "'trials'", "trials-2**63-1"),
    sweep(study(task="size = 2\ntrials = 1000000"), "'tasks.jsb.trials'", "task-trials-huge"),
    sweep(study(task="size = 1000000000"), "'tasks.jsb.size'", "task-size-1e9"),
    sweep(study(task="size = 2\ndata_seed = 18446744073709551616"), "'tasks.jsb.data_seed'",
          "data_seed-2**64"),
    sweep(study(body=SPACE + "hidden_size = [4, 1000000000000]\n"), "'space.hidden_size'",
          "hidden-range-beyond-memory"),
    sweep(study(body=PROTO + 'backend = "triton"\n'), "'protocol.backend'",
          "backend-triton-without-gpu"),
    Case("train-seed-negative", (*TRAIN, "--seed", "-1"), "seed"),
    Case("train-seed-2**64", (*TRAIN, "--seed", str(2**64)), "seed"),
    Case("train-hidden-beyond-memory", (*TRAIN, "--hidden", "100000000"), "hidden_size"),
    Case("train-backend-triton-without-gpu", (*TRAIN, "--backend", "triton"), "triton"),
    Case("train-size-1e9", (*TRAIN, "--size", "1000000000"), "size"),
    Case("data-seed-negative", ("data", "prepare", "jsb", "--seed", "-1"), "--seed"),
    Case("data-seed-2**64", ("data", "prepare", "jsb", "--seed", str(2**64)), "--seed"),
    Case("report-trees-zero", ("report", "--storage", "{case}/j.log", "--trees", "0"),
         "--trees"),
    Case("report-trees-negative", ("report", "--storage", "{case}/j.log", "--trees", "-1"),
         "--trees"),
    Case("report-seed-negative", ("report", "--storage", "{case}/j.log", "--seed", "-1"),
         "--seed"),
    Case("analyze-trees-zero", ("analyze", "--storage", "{case}/j.log", "--trees", "0"),
         "--trees"),
    Case("analyze-seed-negative", ("analyze", "--storage", "{case}/j.log", "--seed", "-1"),
         "--seed"),
    Case("sweep-dask-bogus", (*GOOD_SWEEP, "--dask", "bogus"), "bogus"),
    Case("dashboard-port-negative", ("dashboard", "--storage", "{case}/j.log", "--port", "-1"),
         "--port"),
    Case("dashboard-port-99999", ("dashboard", "--storage", "{case}/j.log", "--port",
                                  "99999"), "--port"),
    *(Case(f"{command}-journal-{j}", (*argv, "--storage", f"{{root}}/{j}.log"), f"{j}.log")
      for j in JOURNALS for command, argv in (("status", ("status", "{root}/good.toml")),
                                              ("sweep", GOOD_SWEEP),
                                              ("analyze", ("analyze",)))),
    *(Case(f"report-journal-{j}", ("report", "--storage", f"{{root}}/{j}.log", "-o",
                                   "{case}/r"), f"{j}.log") for j in JOURNALS),
    *(Case(f"repair-journal-{j}", ("repair-journal", f"{{root}}/{j}.log", "-o",
                                   "{case}/salvaged.log"), f"{j}.log") for j in JOURNALS),
]
_CUDA_CASE = Case("bench-device-cuda-on-cpu-torch", ("bench", "kernels", "--device", "cuda"),
                  "--device")

# Cases that fail today in files other helpers own; strict: they must be fixed there.
OWNED_ELSEWHERE: dict[str, str] = {}


def _params() -> list:
    import torch

    params = [xfail(c, OWNED_ELSEWHERE[c.id]) if c.id in OWNED_ELSEWHERE
              else pytest.param(c, id=c.id) for c in CASES]
    params.append(pytest.param(_CUDA_CASE, id=_CUDA_CASE.id, marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="this torch has CUDA")))
    return params


# -- the driver: all cases in one fresh process -----------------------------------------------

class _Payload:
    """Pickled, it calls ``open(path, "w")`` when loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _CaseTimeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _CaseTimeout(f"the case ran for more than {CASE_TIMEOUT_S} s")


def _run_case(argv: list[str], cwd: Path) -> dict:
    """Run ``lstm-odyssey *argv`` in this process: exit status, stdout and stderr."""
    from lstm_odyssey.cli import main

    cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(CASE_TIMEOUT_S)
        try:
            sys.argv = ["lstm-odyssey", *argv]
            main()
            code = 0
        except SystemExit as e:  # as the interpreter reports it
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001 — what the interpreter prints for an uncaught one
            traceback.print_exc()
            code = 1
        finally:
            signal.alarm(0)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        out.seek(0)
        err.seek(0)
        return {"code": code, "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace")}


def _drive(root: Path, ids: list[str], result_file: Path) -> None:
    """Run the cases ``ids`` under ``root``; write {id: result} as JSON to ``result_file``."""
    cases = {c.id: c for c in [*CASES, _CUDA_CASE]}
    _shared_files(root)
    results = {}
    for case_id in ids:
        case = cases[case_id]
        argv, _, cwd = case.resolve(root)
        cwd.mkdir(parents=True)
        if case.study is not None:
            (cwd / "bad.toml").write_text(fill(case.study, root, cwd))
        if case.never_creates:
            (cwd / "evil.pickle").write_bytes(pickle.dumps(_Payload(
                fill(case.never_creates, root, cwd))))
        results[case_id] = _run_case(argv, cwd)
    result_file.write_text(json.dumps(results))


def _env() -> dict:
    repo = Path(__file__).resolve().parent.parent
    path = [str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[Path, dict]:
    """(root, {case id: result}) of every case, run by one fresh driver process."""
    root = tmp_path_factory.mktemp("bad_inputs")
    ids = [c.id for c in [*CASES, _CUDA_CASE]]
    result_file = root.parent / f"{root.name}.json"
    # Run as a script (not -m) so that click names the program lstm-odyssey, as installed.
    subprocess.run([sys.executable, __file__, str(root), str(result_file), *ids], env=_env(),
                   check=True, timeout=CASE_TIMEOUT_S * 3)
    return root, json.loads(result_file.read_text())


def _check(case: Case, root: Path, result: dict) -> None:
    _, expect, _ = case.resolve(root)
    err = result["stderr"]
    shown = (f"{case.id}: exit {result['code']}\nstderr: {err!r}\n"
             f"stdout: {result['stdout'][-500:]!r}")
    assert "Traceback" not in err + result["stdout"], shown
    assert result["code"] == 2, shown
    assert err.endswith("\n") and err.count("\n") == 1, shown
    assert expect in err, f"{expect!r} not named\n{shown}"


@pytest.mark.parametrize("case", _params())
def test_bad_input_is_one_line_naming_it(case: Case, table) -> None:
    root, results = table
    _check(case, root, results[case.id])
    _, _, cwd = case.resolve(root)
    if case.never_creates:
        assert not Path(fill(case.never_creates, root, cwd)).exists(), "the pickle ran code"


def test_journals_that_are_not_optuna_journals_are_never_written(table) -> None:
    """Every command refused them before appending anything (or cutting a 'torn' line)."""
    root, _ = table
    fresh = root.parent / "fresh"
    fresh.mkdir()
    _shared_files(fresh)
    for j in JOURNALS:
        assert (root / f"{j}.log").read_bytes() == (fresh / f"{j}.log").read_bytes(), j
        assert [p.name for p in root.glob(f"{j}.log*")] == [f"{j}.log"]  # no .torn-… copy


SAMPLE = ("max_epochs-2.5", "lr-range-inf", "storage-postgres-unreachable", "bench-repeats-zero",
          "train-hidden-a-word", "data-timit-path-a-file")


def test_cases_print_the_same_in_their_own_process(table) -> None:
    """The driver is faithful: a sample of the cases, each as its own ``lstm-odyssey``
    process, prints exactly what it printed in the driver."""
    root, results = table
    cases = {c.id: c for c in CASES}
    for case_id in SAMPLE:
        argv, _, cwd = cases[case_id].resolve(root)
        out = subprocess.run([COMMAND, *argv], cwd=cwd, env=_env(), capture_output=True,
                             text=True, timeout=CASE_TIMEOUT_S, check=False)
        own = {"code": out.returncode, "stdout": out.stdout, "stderr": out.stderr}
        assert own == results[case_id], case_id


if __name__ == "__main__":
    _drive(Path(sys.argv[1]), sys.argv[3:], Path(sys.argv[2]))
