"""A run's record as a few lines of text for people (``lstm-odyssey train`` without --json)."""

from __future__ import annotations


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def summarize(record: dict) -> str:
    """Status, best epoch and the metrics of a run's record, one fact per line."""
    lines = [
        (f"task {record['task']} ({record['source']}), variant {record['variant']}, "
        f"{record['n_parameters']} parameters, backend {record['backend']}"),
        f"status {record['status']}"
        + (f": {record['failure_reason']}" if record["failure_reason"] else ""),
        (f"epochs {record['epochs']}, best epoch {record['best_epoch']}, "
        f"wall time {record['wall_time_s']:.1f} s"),
        (f"{record['metric']}: train {_fmt(record['train_metric'])}, "
        f"valid {_fmt(record['valid_metric'])}, test {_fmt(record['test_metric'])} "
        f"(trivial baseline on valid: {_fmt(record['baseline_metric'])})"),
    ]
    return "\n".join(lines)
