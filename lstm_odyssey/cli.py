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
