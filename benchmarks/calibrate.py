"""Calibrate a study's protocol by measurement: vanilla learning curves before planning.

    python benchmarks/calibrate.py run --task handwriting-synth --size 300 --hidden 63 \
        --lr 1e-3 1e-2 --max-epochs 40 --wall-budget 1800 --out results/odyssey-free/calibration
    python benchmarks/calibrate.py summarise results/odyssey-free/calibration

``run`` trains the vanilla LSTM for every (data, hidden size, learning rate) of the grid with
the paper's protocol (batch 1, momentum 0.9 = the search's median, no input noise), with
patience = max_epochs so that whole curves are seen (``--wall-budget`` ends a run early with
status ``time_limit``, still testing its best epoch), and appends one JSON line per run to
``OUT/runs.jsonl``: the record plus the CPU seconds of every epoch (``time.process_time`` of
the single-threaded run: what a trial costs, whatever else the machine is doing). Runs already
in the file are skipped, so the command resumes. ``--points-per-char`` and ``--line-chars``
render handwriting-synth with other line shapes (uncached) to choose them.

``journal STORAGE --task T`` prints the same for the vanilla trials of a sweep that already
ran (the committed ``odyssey-reduced`` journal ran jsb with the paper's protocol).

``summarise`` prints, for the runs of every ``OUT/*.jsonl``, the trivial baseline, the best
validation and test metric, the epoch it was reached at, the first epoch within 5 % of the
run's best, and the CPU time per epoch, as Markdown.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path

from lstm_odyssey.tasks import handwriting, load_task
from lstm_odyssey.tasks.common import split_counts
from lstm_odyssey.tasks.registry import prepare
from lstm_odyssey.train import TrainConfig, run


def _task(task: str, size: str, ppc: tuple[float, float] | None,
          line_chars: tuple[int, int] | None):
    """The task at ``size``; handwriting-synth with another line shape is rendered here."""
    if ppc is None and line_chars is None:
        return load_task(task, size=size)
    if task != "handwriting-synth":
        raise SystemExit("--points-per-char/--line-chars apply to handwriting-synth only")
    counts = split_counts(size, handwriting.DEMO, handwriting.FULL)
    corpus = handwriting.build(counts, 0, points_per_char=ppc or handwriting.POINTS_PER_CHAR,
                               line_chars=line_chars or handwriting.LINE_CHARS)
    demo = prepare(task, size="demo")         # the task's shape, not its data
    return replace(demo, corpus=corpus).task()


WITHIN = 0.05  # "nearly converged": within 5 % (relative) of the run's best validation metric
_TASK = None   # the task of the grid, built in the parent and inherited by the forked workers


def _one(job: dict) -> dict:
    task = _TASK
    config = TrainConfig(task=job["task"], variant="V", hidden_size=job["hidden"],
                         learning_rate=job["lr"], momentum=job["momentum"], input_noise=0.0,
                         max_epochs=job["max_epochs"], patience=job["max_epochs"],
                         batch_size=1, backend="cpu", threads=1, seed=job["seed"],
                         time_budget_s=job["wall_budget"])
    cpu: list[float] = []
    last = [time.process_time()]

    def on_epoch(epoch: int, record: dict) -> None:
        now = time.process_time()
        cpu.append(now - last[0])
        last[0] = now
        h = record["history"][-1]
        print(f"  N={job['hidden']} lr={job['lr']:g} epoch {epoch}: valid {h['valid_metric']:.4g}"
              f" train {h['train_metric']:.4g} ({cpu[-1]:.1f} CPU s)", flush=True)

    record = run(config, task=task, on_epoch=on_epoch)
    return {"job": job, "cpu_s": cpu, "record": record}


def _key(job: dict) -> str:
    return json.dumps({k: job[k] for k in sorted(job) if k != "wall_budget"})


def cmd_run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.jsonl"
    done = set()
    if path.exists():
        done = {_key(json.loads(line)["job"]) for line in path.read_text().splitlines() if line}
    jobs = [{"task": args.task, "size": args.size, "hidden": h, "lr": lr,
             "momentum": args.momentum,
             "max_epochs": args.max_epochs, "seed": seed, "ppc": args.points_per_char,
             "line_chars": args.line_chars, "wall_budget": args.wall_budget}
            for h, lr, seed in itertools.product(args.hidden, args.lr, args.seeds)]
    jobs = [j for j in jobs if _key(j) not in done]
    print(f"{len(jobs)} runs to do ({len(done)} already in {path})", flush=True)
    global _TASK
    _TASK = _task(args.task, args.size, args.points_per_char, args.line_chars)
    with multiprocessing.get_context("fork").Pool(args.jobs, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(_one, jobs):
            with path.open("a") as f:
                f.write(json.dumps(result) + "\n")
            r, j = result["record"], result["job"]
            print(f"N={j['hidden']} lr={j['lr']:g}: best valid {r.get('valid_metric')} at "
                  f"epoch {r.get('best_epoch')} of {r.get('epochs')}, test "
                  f"{r.get('test_metric')}, {sum(result['cpu_s']):.0f} CPU s", flush=True)


def _pair(text: str, kind: type) -> tuple:
    a, b = text.split(",")
    return kind(a), kind(b)


def _range(pair) -> str:
    return f"{pair[0]:g}–{pair[1]:g}"


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def cmd_summarise(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for f in sorted(Path(args.out).glob("*.jsonl"))
            for line in f.read_text().splitlines() if line]
    print("| task | size | line shape | N | lr | baseline | best valid | epoch of best / run |"
          " first epoch within 5 % of best | test at best | CPU s / epoch | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows.sort(key=lambda r: (r["job"]["task"], str(r["job"]["size"]), str(r["job"]["ppc"]),
                             str(r["job"]["line_chars"]), r["job"]["hidden"], r["job"]["lr"]))
    for r in rows:
        j, rec = r["job"], r["record"]
        curve = [h["valid_metric"] for h in rec["history"]]
        best = rec["valid_metric"]
        near = next((i + 1 for i, v in enumerate(curve)
                     if best is not None and v <= best + WITHIN * abs(best)), None)
        shape = "–" if j["task"] != "handwriting-synth" else (
            f"{_range(j['ppc'] or handwriting.POINTS_PER_CHAR)} points/char, "
            f"{_range(j['line_chars'] or handwriting.LINE_CHARS)} chars"
            + (" (default)" if j["ppc"] is None and j["line_chars"] is None else ""))
        per_epoch = sum(r["cpu_s"]) / max(1, len(r["cpu_s"]))
        print(f"| {j['task']} | {j['size']} | {shape} | {j['hidden']} | {j['lr']:g} | "
              f"{_fmt(rec['baseline_metric'])} | {_fmt(best)} | {rec['best_epoch']} / "
              f"{rec['epochs']} | {near or '–'} | {_fmt(rec['test_metric'])} | "
              f"{per_epoch:.1f} | {rec['status']} |")


def cmd_journal(args: argparse.Namespace) -> None:
    """The vanilla trials of ``args.task`` in a sweep storage, in the table of ``summarise``
    (no CPU times there: wall seconds per epoch instead)."""
    import pandas as pd

    from lstm_odyssey.analysis import load_results

    trials = load_results(args.storage).trials
    rows = trials[(trials["task"] == args.task) & (trials["variant"] == "V")
                  & trials["valid_metric"].notna()].sort_values("valid_metric")
    print("| N | lr | momentum | noise | baseline | best valid | epoch of best / run |"
          " first epoch within 5 % of best | test at best | wall s / epoch | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for _, r in rows.iterrows():
        curve = [h["valid_metric"] for h in r["history"]]
        best = r["valid_metric"]
        near = next(i + 1 for i, v in enumerate(curve) if v <= best + WITHIN * abs(best))
        baseline = r.get("baseline_metric")
        baseline = None if baseline is None or pd.isna(baseline) else baseline
        print(f"| {int(r['hidden_size'])} | {r['learning_rate']:.2g} | {r['momentum']:.2f} | "
              f"{r['input_noise']:.2f} | {_fmt(baseline)} | "
              f"{best:.3g} | {int(r['best_epoch'])} / {int(r['epochs'])} | {near} | "
              f"{r['test_metric']:.3g} | {r['wall_time_s'] / r['epochs']:.2f} | "
              f"{r['status']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("run", help="train the grid, appending to OUT/runs.jsonl")
    p.add_argument("--task", required=True)
    p.add_argument("--size", default="demo")
    p.add_argument("--hidden", type=int, nargs="+", default=[63, 200])
    p.add_argument("--lr", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--max-epochs", type=int, default=40)
    p.add_argument("--wall-budget", type=float, default=None)
    p.add_argument("--points-per-char", type=lambda t: _pair(t, float), default=None)
    p.add_argument("--line-chars", type=lambda t: _pair(t, int), default=None)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_run)
    s = sub.add_parser("summarise", help="the runs of OUT as a Markdown table")
    s.add_argument("out")
    s.set_defaults(fn=cmd_summarise)
    j = sub.add_parser("journal", help="the vanilla trials of a task in a sweep storage")
    j.add_argument("storage")
    j.add_argument("--task", required=True)
    j.set_defaults(fn=cmd_journal)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
