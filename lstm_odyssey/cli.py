"""The ``lstm-odyssey`` command. Thin: options are parsed here, the work is done by library
functions that are equally usable from Python and from tests."""

from __future__ import annotations

import sys

import click

from .errors import UserError
from .families import count_parameters, family_of, preset_names


@click.group()
@click.version_option(package_name="lstm-odyssey")
def cli() -> None:
    """LSTM variant ablation studies: fused kernels, Optuna sweeps, the paper's analysis."""


@cli.command()
@click.option("--input-size", default=39, show_default=True, type=click.IntRange(min=1),
              help="M, features per step.")
@click.option("--hidden", default=100, show_default=True, type=click.IntRange(min=1),
              help="N, LSTM blocks.")
def variants(input_size: int, hidden: int) -> None:
    """List the variant presets of every cell family and their parameter counts."""
    click.echo(f"{'variant':10s} {'family':8s} {'parameters':>10s}   (M={input_size}, "
               f"N={hidden}, one layer)")
    for name in preset_names():
        click.echo(f"{name:10s} {family_of(name):8s} "
                   f"{count_parameters(name, input_size, hidden):>10d}")


@cli.command()
@click.option("--task", default=None,
              help="Task name, e.g. jsb, timit-synth, handwriting-synth (with --task-path: "
                   "the name of your dataset's task).")
@click.option("--task-path", default=None, metavar="DIR",
              help="Your own dataset: a folder with dataset.toml and train/valid/test.npz.")
@click.option("--path", default=None, help="Your copy of the real corpus, for real-data tasks.")
@click.option("--size", default="demo", show_default=True,
              help="Data size: demo, full or N (a dataset folder: demo = full = all of it).")
@click.option("--variant", default=None,
              help="Variant of any family, e.g. V, NFG, cifg+np, gru+lbr, slstm [default: V, "
                   "or the --cell's].")
@click.option("--cell", default=None, metavar="PACKAGE.MODULE:OBJECT",
              help="Your own cell (the protocol of docs/add-a-family.md).")
@click.option("--hidden", type=int, required=True, help="N, LSTM blocks (the state width).")
@click.option("--lr", type=float, required=True, help="Learning rate (scaled by 1 - momentum).")
@click.option("--momentum", type=float, required=True, help="Momentum in [0, 1).")
@click.option("--noise", type=float, default=0.0, show_default=True, help="Input-noise std.")
@click.option("--max-epochs", type=int, default=150, show_default=True)
@click.option("--patience", type=int, default=15, show_default=True)
@click.option("--batch-size", type=int, default=1, show_default=True,
              help="Sequences per update (1 = the paper).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--backend", default="auto", show_default=True)
@click.option("--time-budget", type=float, default=None, help="Stop after this many seconds.")
@click.option("--threads", type=int, default=1, show_default=True,
              help="torch threads; results are reproducible for a fixed thread count.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
def train(task: str | None, task_path: str | None, path: str | None, size: str,
          variant: str | None, cell: str | None, hidden: int, lr: float, momentum: float,
          noise: float, max_epochs: int, patience: int,
          batch_size: int, seed: int, backend: str, time_budget: float | None, threads: int,
          as_json: bool) -> None:
    """Train one network with the paper's protocol and print its record."""
    import json

    from .train import TrainConfig, run
    from .train.summary import summarize

    if task_path is not None:
        if path is not None:
            raise click.UsageError("give --task-path (your dataset) or --path (a real corpus "
                                   "of a built-in task), not both")
        from .tasks.userdata import dataset_name

        task, path = task or dataset_name(task_path), task_path
    if task is None:
        raise click.UsageError("name a task with --task, or give your dataset with --task-path")
    config = TrainConfig(
        task=task, variant=variant if variant or cell else "V", cell=cell, hidden_size=hidden,
        learning_rate=lr, momentum=momentum,
        input_noise=noise, max_epochs=max_epochs, patience=patience, batch_size=batch_size,
        seed=seed, backend=backend, time_budget_s=time_budget, threads=threads,
        size=int(size) if size.isdigit() else size, path=path,
    )
    record = run(config, progress=True)
    click.echo(json.dumps(record) if as_json else summarize(record))


# -- analysis and reports (lstm_odyssey.analysis) ------------------------------------------------
_STORAGE = click.option("--storage", required=True,
                        help="Optuna storage: RDB URL (sqlite:///x.db, postgresql://...) or "
                             "journal file path.")
_STUDY = click.option("--study", default=None, help="Only the studies of this study file name.")


@cli.command()
@click.argument("target", nargs=-1)
@click.option("--storage", default=None,
              help="Optuna storage: RDB URL (sqlite:///x.db, postgresql://...) or journal file "
                   "path; default: the storage of TARGET.")
@_STUDY
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Directory for report.html, report.md, CSVs and figures "
                   "[default: results/<study>/report or TARGET/report].")
@click.option("--trees", default=100, show_default=True, type=click.IntRange(min=1),
              help="Trees of the fANOVA forest.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of the forests and bootstraps (scikit-learn takes < 2**32).")
def report(target: tuple[str, ...], storage: str | None, study: str | None,
           out_dir: str | None, trees: int, seed: int) -> None:
    """Write the analysis report (HTML, Markdown, CSVs, figures) of a sweep.

    TARGET is optional: one or more study files (studies/x.toml; several that share one
    storage, e.g. a study and its extension, report together) or a results directory
    holding the sweep's journal file; otherwise give --storage and -o."""
    from .analysis.report import build_report, resolve_target

    t = resolve_target(target, storage, out_dir)
    click.echo(build_report(t.storage, t.out, study or t.study, n_trees=trees, seed=seed,
                            searches=t.searches, registration=t.registration))


@cli.command()
@_STORAGE
@_STUDY
@click.option("--trees", default=100, show_default=True, type=click.IntRange(min=1),
              help="Trees of the fANOVA forest.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of the forests and bootstraps (scikit-learn takes < 2**32).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def analyze(storage: str, study: str | None, trees: int, seed: int, as_json: bool) -> None:
    """Print the significance and importance tables of a sweep."""
    import json

    from .analysis.report import analyze as run
    from .analysis.report import summary, summary_text

    a = run(storage, study, n_trees=trees, seed=seed)
    click.echo(json.dumps(summary(a)) if as_json else summary_text(a))


@cli.command()
@_STORAGE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def dashboard(storage: str, host: str, port: int) -> None:
    """Open optuna-dashboard on a sweep's storage for live monitoring."""
    from .analysis.dashboard import run_dashboard

    run_dashboard(storage, host, port)


@cli.command("synthetic-study")
@click.option("--storage", required=True, help="Journal file path or RDB URL to write into.")
@click.option("--trials", default=40, show_default=True, type=click.IntRange(min=1),
              help="Trials per task and variant.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
def synthetic_study(storage: str, trials: int, seed: int) -> None:
    """Write a fabricated study with a known structure (no training) to try the analysis."""
    from .analysis.synthetic import write_synthetic_study
    from .records import mask_url

    write_synthetic_study(storage, n_trials=trials, seed=seed)
    click.echo(mask_url(storage))


@cli.group()
def data() -> None:
    """Prepare, inspect and draw the datasets (jsb, timit-synth, timit, handwriting-synth,
    iam-ondb) or your own (--path DIR, a folder with dataset.toml)."""


def _data_options(fn):  # a click decorator
    fn = click.option("--step", default=None, help="jsb: quarter (default) or eighth.")(fn)
    fn = click.option("--phones", type=int, default=None, help="timit: 61 (default) or 39.")(fn)
    fn = click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=0,
                      show_default=True)(fn)
    fn = click.option("--path", default=None,
                      help="Your copy of a real corpus, or your dataset folder (dataset.toml; "
                           "then TASK may be left out).")(fn)
    fn = click.option("--size", default="demo", show_default=True,
                      help="demo, full or N training sequences.")(fn)
    return click.argument("task", required=False)(fn)


def _task_options(step: str | None, phones: int | None) -> dict:
    return {k: v for k, v in (("step", step), ("phones", phones)) if v is not None}


@data.command("prepare")
@_data_options
def data_prepare(task: str | None, size: str, path: str | None, seed: int, step: str | None,
                 phones: int | None) -> None:
    """Build (or find in the cache) a task's data, with a progress bar."""
    from .tasks import prepare

    prepared = prepare(task, size, path, seed, progress=True, **_task_options(step, phones))
    click.echo(f"{prepared.facts.name}: " + ", ".join(f"{len(prepared.corpus.split(s))} {s}"
                                                      for s in ("train", "valid", "test")))


@data.command("info")
@_data_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def data_info(task: str | None, size: str, path: str | None, seed: int, step: str | None,
              phones: int | None, as_json: bool) -> None:
    """Per split: sequences, steps, length range and class frequencies."""
    import json

    from .tasks import prepare
    from .tasks.describe import format_summary, summary

    info = summary(prepare(task, size, path, seed, **_task_options(step, phones)))
    click.echo(json.dumps(info) if as_json else format_summary(info))


@data.command("show")
@_data_options
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="PNG file to write.")
@click.option("--split", default="train", show_default=True,
              type=click.Choice(["train", "valid", "test"]))
@click.option("--index", default=0, show_default=True, help="Which sequence of the split.")
def data_show(task: str | None, size: str, path: str | None, seed: int, step: str | None,
              phones: int | None, out: str, split: str, index: int) -> None:
    """Draw one example: piano roll, feature image with phone labels, or pen strokes."""
    from .tasks import prepare
    from .tasks.describe import draw

    click.echo(draw(prepare(task, size, path, seed, **_task_options(step, phones)), out, split,
                    index))


_STORAGE_HELP = ("Journal file path, sqlite:///FILE.db or postgresql://USER@HOST/DB "
                 "(default: the study file's, else results/<study>/journal.log).")


def _check_analysis(spec) -> None:
    """A study's [analysis] table is checked before anything is planned (one-line error)."""
    if spec.analysis:
        from .analysis.targets import registration

        registration([spec])


@cli.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--jobs", "-j", default=1, show_default=True, help="Local worker processes.")
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option("--dask", default=None, metavar="ADDRESS|local",
              help="Run the workers on a Dask cluster (scheduler address, or 'local').")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--retry-failed", is_flag=True,
              help="First re-queue, once, each planned trial that failed (or that the machine "
                   "failed too often); the failures stay recorded.")
def sweep(study_file: str, jobs: int, storage: str | None, dask: str | None,
          no_progress: bool, retry_failed: bool) -> None:
    """Plan STUDY_FILE and run it to completion; run it again to resume."""
    from .sweep.executors import SweepInterrupted
    from .sweep.executors import sweep as run_sweep
    from .sweep.studyfile import load_study

    spec = load_study(study_file)
    _check_analysis(spec)
    try:
        run_sweep(spec, storage, jobs, dask, progress=not no_progress,
                  echo=click.echo, retry_failed=retry_failed)
    except SweepInterrupted as e:
        click.echo(str(e), err=True)
        sys.exit(130)


@cli.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--storage", default=None, help=_STORAGE_HELP)
def worker(study_file: str, storage: str | None) -> None:
    """Join a sweep from this machine: run planned trials until none is left."""
    from .sweep.executors import SweepInterrupted, run_worker
    from .sweep.studyfile import load_study

    try:
        run_worker(load_study(study_file), storage, echo=click.echo)
    except SweepInterrupted as e:
        click.echo(str(e), err=True)
        sys.exit(130)


@cli.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(study_file: str, storage: str | None, as_json: bool) -> None:
    """Trials planned, complete, running, failed/diverged, pruned and the best value so far."""
    import json

    from .sweep.status import format_table, open_status

    spec, url, rows = open_status(study_file, storage)
    if as_json:
        click.echo(json.dumps({"study": spec.name, "storage": url, "searches": rows}))
    else:
        click.echo(f"study {spec.name!r} in {url}")
        click.echo(format_table(rows))


# -- study tools: progress, criteria, curves, the results README (lstm_odyssey.analysis) --------
_STUDY_FILE = click.argument("study_file", type=click.Path(dir_okay=False))


@cli.group()
def study() -> None:
    """Read a study's trials: progress and cost, the protocol's criteria, learning curves, the
    results README's generated block. Markdown on stdout."""


@study.command("progress")
@_STUDY_FILE
@click.option("--storage", default=None, help=_STORAGE_HELP)
def study_progress(study_file: str, storage: str | None) -> None:
    """Trials finished / planned per task and the core-hours they used (and would still)."""
    from .analysis.progress import study_progress as run
    from .analysis.study import open_study

    click.echo(run(open_study(study_file, storage)).to_markdown())


@study.command("criteria")
@_STUDY_FILE
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option("--variant", default="V", show_default=True,
              help="The variant whose trials are judged, or 'all' (every variant pooled).")
def study_criteria(study_file: str, storage: str | None, variant: str) -> None:
    """Did the protocol let the tasks learn: (a) learned, (b) not cut off by the epoch cap,
    (c) validation ≈ test, on the best 10 % of a variant's trials."""
    from .analysis.criteria import study_criteria as run
    from .analysis.criteria import to_markdown
    from .analysis.study import open_study

    click.echo(to_markdown(run(open_study(study_file, storage), variant), variant))


@study.command("curves")
@_STUDY_FILE
@click.option("--task", required=True, help="The task whose trials are shown.")
@click.option("--variant", default="V", show_default=True)
@click.option("--storage", default=None, help=_STORAGE_HELP)
def study_curves(study_file: str, task: str, variant: str, storage: str | None) -> None:
    """A variant's trials of a task, best first: best epoch, first epoch within 5 % of the
    best, test metric, wall seconds per epoch."""
    from .analysis.curves import trial_curves
    from .analysis.study import open_study

    click.echo(trial_curves(open_study(study_file, storage).results.trials, task, variant))


@study.command("readme")
@_STUDY_FILE
@click.option("--storage", default=None, help=_STORAGE_HELP)
@click.option("--machine", default=None,
              help="The machine the trials ran on (the journal does not say); kept when the "
                   "block is written again.")
@click.option("--write", "readme", default=None, type=click.Path(dir_okay=False),
              help="Replace the generated block of this README (results/<study>/README.md); "
                   "the rest of it is kept.")
def study_readme(study_file: str, storage: str | None, machine: str | None,
                 readme: str | None) -> None:
    """The results README's generated block: commands, storage, report, versions, machine,
    cost."""
    from pathlib import Path

    from .analysis.readme import NO_MACHINE, readme_block, write_readme
    from .analysis.study import open_study

    trials = open_study(study_file, storage)
    if readme:
        click.echo(write_readme(trials, study_file, readme, machine))
    else:
        folder = Path("results") / trials.spec.name
        click.echo(readme_block(trials, study_file, folder, machine or NO_MACHINE).to_markdown())


@cli.group()
def calibrate() -> None:
    """Calibrate a protocol by measurement: vanilla learning curves before planning a study."""


def _pair(kind: type):
    def parse(ctx: click.Context, param: click.Parameter, value: str | None):
        if value is None:
            return None
        try:
            a, b = value.split(",")
            return kind(a), kind(b)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not FROM,TO") from None
    return parse


def _list(kind: type):
    def parse(ctx: click.Context, param: click.Parameter, value: str) -> tuple:
        try:
            return tuple(kind(v) for v in value.split(","))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a comma-separated list") from None
    return parse


@calibrate.command("run")
@click.option("--task", default=None, help="A task name (with --task-path: your task's name).")
@click.option("--task-path", default=None, type=click.Path(file_okay=False),
              help="Your own dataset: a folder with dataset.toml and train/valid/test.npz.")
@click.option("--size", default="demo", show_default=True, help="demo, full or N.")
@click.option("--hidden", default="63,200", show_default=True, callback=_list(int),
              help="Hidden sizes N, comma-separated.")
@click.option("--lr", default="1e-4,1e-3,1e-2", show_default=True, callback=_list(float),
              help="Learning rates, comma-separated.")
@click.option("--seeds", default="0", show_default=True, callback=_list(int),
              help="Training seeds, comma-separated.")
@click.option("--momentum", default=0.9, show_default=True)
@click.option("--max-epochs", default=40, show_default=True, type=click.IntRange(min=1))
@click.option("--wall-budget", type=float, default=None, help="Seconds per run at most.")
@click.option("--points-per-char", default=None, callback=_pair(float), metavar="FROM,TO",
              help="handwriting-synth: another line shape (uncached).")
@click.option("--line-chars", default=None, callback=_pair(int), metavar="FROM,TO",
              help="handwriting-synth: characters per line.")
@click.option("--jobs", "-j", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder of runs.jsonl (appended; runs already there are skipped).")
def calibrate_run(task: str | None, task_path: str | None, size: str,
                  hidden: tuple[int, ...], lr: tuple[float, ...], seeds: tuple[int, ...],
                  momentum: float, max_epochs: int, wall_budget: float | None, points_per_char,
                  line_chars, jobs: int, out: str) -> None:
    """Train the vanilla LSTM over hidden × lr × seed, patience = max epochs (whole curves)."""
    from .train.calibration import calibration_grid, run_calibration

    if task_path is not None:
        from .tasks.userdata import dataset_name

        task = task or dataset_name(task_path)
    if task is None:
        raise click.UsageError("name a task with --task, or give your dataset with --task-path")
    grid = calibration_grid(task, size, hidden, lr, seeds, momentum, max_epochs, wall_budget,
                            points_per_char, line_chars, task_path)
    run_calibration(grid, out, jobs, echo=lambda s: click.echo(s))


@calibrate.command("summary")
@click.argument("out", type=click.Path(file_okay=False))
def calibrate_summary(out: str) -> None:
    """The runs of OUT/*.jsonl: best validation and test metric, epoch of best, first epoch
    within 5 % of it, CPU seconds per epoch."""
    from .analysis.curves import calibration_summary
    from .records.runs import read_calibration_runs
    from .train.calibration import DEFAULT_LINE_SHAPE

    click.echo(calibration_summary(read_calibration_runs(out), DEFAULT_LINE_SHAPE))


@calibrate.command("curves")
@click.argument("records", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--at", default="10,20,30,40,50,70,100,120,150", show_default=True,
              help="Comma-separated epochs to show.")
def calibrate_curves(records: tuple[str, ...], at: str) -> None:
    """Validation curves of `lstm-odyssey train --json` records at chosen epochs."""
    from .analysis.curves import run_curves
    from .records.runs import TrainedRun

    try:
        epochs = [int(e) for e in at.split(",")]
    except ValueError:
        raise click.BadParameter(f"{at!r} is not a comma-separated list of epochs",
                                 param_hint="--at") from None
    click.echo(run_curves([TrainedRun.read(r) for r in records], epochs))


@cli.command("repair-journal")
@click.argument("journal", type=click.Path(dir_okay=False))
@click.option("-o", "--out", default=None, type=click.Path(dir_okay=False),
              help="The new journal file [default: JOURNAL.salvaged].")
@click.option("--stop-at-first", is_flag=True,
              help="Keep only the records before the first unreadable line (always consistent).")
def repair_journal(journal: str, out: str | None, stop_at_first: bool) -> None:
    """Copy the readable records of a damaged journal file to a new file (JOURNAL is not
    changed); then check the copy with `status --storage` and put it in JOURNAL's place."""
    from pathlib import Path

    from .records import StorageError
    from .records.journal import salvage

    target = Path(out or f"{journal}.salvaged")
    existed = target.exists()
    try:
        r = salvage(Path(journal), target, stop_at_first)
        if r.kept == 0:
            raise StorageError(f"{journal} holds no Optuna journal record (of {r.lines} "
                               "line(s)); it is not a sweep's journal: check the path")
    except Exception as e:
        if not existed:  # (salvage refuses an existing output before writing anything)
            target.unlink(missing_ok=True)
        replay = (KeyError, TypeError, AttributeError, IndexError, ValueError, AssertionError)
        if isinstance(e, UserError) or not isinstance(e, replay):
            raise
        raise StorageError(f"{journal}: its readable records do not replay as an Optuna "
                           f"journal ({type(e).__name__}: {e}); it is not a sweep's journal: "
                           "check the path") from None
    dropped = ", ".join(map(str, r.dropped[:10])) + (" …" if len(r.dropped) > 10 else "")
    click.echo(f"wrote {r.kept} of {r.lines} records to {r.out}"
               + (f"; recovered {r.recovered} record(s) glued onto a torn line"
                  if r.recovered else "")
               + (f"; dropped unreadable line(s) {dropped}" if r.dropped else ""))
    if r.dropped_a_create and not stop_at_first:
        click.echo("warning: a dropped line created a study or trial, so the records after it "
                   "may be attributed to the wrong trial; to be safe, use --stop-at-first",
                   err=True)


@cli.command("build-kernels")
@click.option("--clean", is_flag=True, help="Delete every cached build first.")
@click.option("--verbose", is_flag=True, help="Show the compiler output.")
def build_kernels(clean: bool, verbose: bool) -> None:
    """Build the C++ cpu kernels ahead of time and report what was built. A damaged cached
    build is rebuilt; SIGTERM or Ctrl-C end the compiler processes and leave no lock."""
    from .kernels import build

    if clean:
        for d in build.clean():
            click.echo(f"removed {d}")
    plan, cached, seconds = build.build_now(verbose=verbose)
    state = "cached" if cached else f"built in {seconds:.1f} s"
    click.echo(f"cpu kernels {plan.name}: {state}")
    click.echo(f"  library   {plan.library}")
    click.echo(f"  vector    {plan.capability} (this CPU: {plan.detected})")
    click.echo(f"  flags     {' '.join(plan.flags)}")


@cli.group()
def bench() -> None:
    """Benchmarks."""


def _device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A torch device this torch can run on (``cpu``, ``cuda``, ``cuda:1``)."""
    import torch

    try:
        device = torch.device(value)
    except RuntimeError:
        raise click.BadParameter(f"{value!r} is not a torch device; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        build = "has no CUDA" if torch.version.cuda is None else "finds no CUDA GPU"
        raise click.BadParameter(f"this torch {torch.__version__} {build}; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise click.BadParameter(f"{value!r}: only cpu and cuda are benchmarked")
    return value


@bench.command("kernels")
@click.option("--shape", "shapes", multiple=True, metavar="T,B,M,N",
              help="A shape to run (repeatable); default: the benchmark shapes.")
@click.option("--variant", "variants", multiple=True, help="A variant (repeatable); default: all.")
@click.option("--repeats", default=7, show_default=True, type=click.IntRange(min=1),
              help="Timed rounds per candidate.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="torch threads for everyone.")
@click.option("--device", default="cpu", show_default=True, callback=_device,
              help="cpu or cuda.")
@click.option("--no-reference", is_flag=True, help="Skip the (slow) reference autograd loop.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_kernels(shapes: tuple[str, ...], variants: tuple[str, ...], repeats: int,
                  threads: int, device: str, no_reference: bool, as_json: bool) -> None:
    """Fused kernels vs torch.nn.LSTM and the reference loop, side by side in one process."""
    import json

    from .kernels import benchmark

    rows = benchmark.run_benchmark(
        shapes=[benchmark.parse_shape(s) for s in shapes] or None, variants=variants or None,
        device=device, repeats=repeats, threads=threads, reference=not no_reference,
    )
    if as_json:
        click.echo(json.dumps(benchmark.as_json(rows, device)))
        return
    click.echo(benchmark.__doc__.split("\n\n", 1)[1].strip())
    click.echo(f"environment: {benchmark.environment(device)}")
    click.echo(benchmark.format_table(rows))
    fast = "triton" if device.startswith("cuda") else "cpu"
    click.echo(f"\nsummary ({fast} backend, ratios of medians):")
    click.echo(benchmark.format_summary(rows, fast))


@cli.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--rule", default="baseline-gate", show_default=True,
              help="baseline-gate: stop a run that has not beaten the trivial baseline after "
                   "EPOCHS epochs; cap: stop every run after EPOCHS epochs.")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--task", "tasks", multiple=True, help="Only this task (repeatable).")
@click.option("--storage", default=None, help=_STORAGE_HELP)
def replay(study_file: str, rule: str, epochs: int, tasks: tuple[str, ...],
           storage: str | None) -> None:
    """Replay a stopping rule on a study's finished trials: the CPU it would have saved, the
    best-10 % members and verdicts it would have changed."""
    from .analysis.replay import make_rule, replay_text
    from .analysis.replay import replay as run
    from .analysis.table import load_results
    from .sweep.studyfile import load_study

    spec = load_study(study_file)
    stop = make_rule(rule, epochs)
    trials = load_results(spec.storage(storage), spec.name, spec.searches()).trials
    trials = trials[trials["replicate_set"] == ""]  # the searches, not the replicate sets
    click.echo(replay_text(run(trials, stop, list(tasks) or None)))


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit status 2."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:  # click ≥ 8.2
        e.show()  # the help text
        sys.exit(e.exit_code)
    except click.ClickException as e:  # a bad option or argument: one line, as below
        hint = f" (see '{e.ctx.command_path} --help')" if getattr(e, "ctx", None) else ""
        click.echo(f"error: {' '.join(e.format_message().split())}{hint}", err=True)
        sys.exit(e.exit_code)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
