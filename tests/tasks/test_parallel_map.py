"""The data preparation's process pool under a sweep's signal handlers."""

import subprocess
import sys

CODE = """
from lstm_odyssey.sweep.worker import install_signal_handlers
from lstm_odyssey.tasks.common import parallel_map
install_signal_handlers()          # as a sweep does before it loads its tasks
print(parallel_map(abs, range(-20, 0), processes=2))
"""


def test_pool_workers_end_quietly_under_the_sweeps_signal_handlers():
    # The pool ends its workers with SIGTERM; inherited handlers that raise made every worker
    # print a "Process ForkPoolWorker-N … Interrupted: SIGTERM" traceback in `make demo`.
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=False,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(list(range(20, 0, -1)))
    assert "Traceback" not in out.stderr and "Interrupted" not in out.stderr, out.stderr
