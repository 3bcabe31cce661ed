"""Validation curves of training records, as a Markdown table.

    lstm-odyssey train --task handwriting-synth --size 300 ... --json > run.json
    python benchmarks/curves.py results/odyssey-free-2/pilot/*.json [--at 10,20,40,70,100,150]

Each file is one record of ``lstm-odyssey train --json`` (a pilot run of a study's
configuration under another protocol or data size). Per record: its configuration, the
validation metric at the given epochs ('–' after the run stopped), the best epoch of the run,
the best validation and the test metric there, and the CPU seconds per epoch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", type=Path)
    parser.add_argument("--at", default="10,20,30,40,50,70,100,120,150",
                        help="comma-separated epochs to show")
    args = parser.parse_args()
    at = [int(e) for e in args.at.split(",")]
    print("| record | task, size | variant | N | lr | momentum | noise | max epochs / patience | "
          + " | ".join(f"ep {e}" for e in at)
          + " | best epoch / run | best valid | test | CPU s / epoch |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(at) + "---|---|---|---|")
    for path in args.records:
        r = json.loads(path.read_text())
        c = r["config"]
        curve = [h["valid_metric"] for h in r["history"]]
        cells = [f"{curve[e - 1]:.3g}" if e <= len(curve) else "–" for e in at]
        print(f"| {path.stem} | {c['task']}, {c['size']} | {c['variant']} | {c['hidden_size']} | "
              f"{c['learning_rate']:.2g} | {c['momentum']:.3f} | {c['input_noise']:.2f} | "
              f"{c['max_epochs']} / {c['patience']} | " + " | ".join(cells)
              + f" | {r['best_epoch']} / {r['epochs']} | {r['valid_metric']:.3g} | "
              f"{r['test_metric']:.3g} | {r['cpu_time_s'] / r['epochs']:.2f} |")


if __name__ == "__main__":
    main()
