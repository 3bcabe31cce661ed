"""The ``lstm-odyssey`` command. Thin: options are parsed here, the work is done by library
functions that are equally usable from Python and from tests."""

from __future__ import annotations

import sys

import click

from .errors import UserError
from .variants import PRESETS, count_parameters


@click.group()
@click.version_option(package_name="lstm-odyssey")
def cli() -> None:
    """LSTM variant ablation studies: fused kernels, Optuna sweeps, the paper's analysis."""


@cli.command()
@click.option("--input-size", default=39, show_default=True, help="M, features per step.")
@click.option("--hidden", default=100, show_default=True, help="N, LSTM blocks.")
def variants(input_size: int, hidden: int) -> None:
    """List the variant presets and their parameter counts."""
    click.echo(f"{'variant':8s} {'parameters':>10s}   (M={input_size}, N={hidden}, one layer)")
    for name, spec in PRESETS.items():
        click.echo(f"{name:8s} {count_parameters(spec, input_size, hidden):>10d}")


@cli.command()
@click.option("--task", required=True, help="Task name, e.g. jsb, timit-synth, handwriting-synth.")
@click.option("--path", default=None, help="Your copy of the real corpus, for real-data tasks.")
@click.option("--size", default="demo", show_default=True, help="Data size: demo, full or N.")
@click.option("--variant", default="V", show_default=True, help="Variant, e.g. V, NFG, cifg+np.")
@click.option("--hidden", type=int, required=True, help="N, LSTM blocks.")
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
def train(task: str, path: str | None, size: str, variant: str, hidden: int, lr: float,
          momentum: float, noise: float, max_epochs: int, patience: int, batch_size: int,
          seed: int, backend: str, time_budget: float | None, threads: int,
          as_json: bool) -> None:
    """Train one network with the paper's protocol and print its record."""
    import json

    from .train import TrainConfig, run
    from .train.summary import summarize

    config = TrainConfig(
        task=task, variant=variant, hidden_size=hidden, learning_rate=lr, momentum=momentum,
        input_noise=noise, max_epochs=max_epochs, patience=patience, batch_size=batch_size,
        seed=seed, backend=backend, time_budget_s=time_budget, threads=threads,
        size=int(size) if size.isdigit() else size, path=path,
    )
    record = run(config, progress=True)
    click.echo(json.dumps(record) if as_json else summarize(record))


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit status 2."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
