"""Kernel benchmark, runnable from a checkout: ``python benchmarks/kernels.py [--json ...]``.

Same as ``lstm-odyssey bench kernels`` (see :mod:`lstm_odyssey.kernels.benchmark`).
"""

import sys

from lstm_odyssey.cli import main

if __name__ == "__main__":
    sys.argv = ["lstm-odyssey", "bench", "kernels", *sys.argv[1:]]
    main()
