"""Live monitoring of a sweep with optuna-dashboard on the same storage."""

from __future__ import annotations

from ..errors import UserError
from ..records import StorageURL


class DashboardUnavailable(UserError, ImportError):
    """optuna-dashboard is not installed."""


def run_dashboard(storage: str, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve optuna-dashboard for ``storage`` (an RDB URL or journal file) until interrupted."""
    try:
        import optuna_dashboard
    except ImportError as e:
        raise DashboardUnavailable(
            "optuna-dashboard is not installed; run `pip install optuna-dashboard` "
            "(it is part of the dev extras: pip install -e '.[dev]')"
        ) from e
    optuna_dashboard.run_server(StorageURL.parse(storage).open(create=False), host=host,
                                port=port)
