"""Run the Triton backend's kernels on the CPU through Triton's interpreter.

``triton.jit`` chooses between the compiler and the interpreter when a kernel is decorated,
i.e. when :mod:`lstm_odyssey.kernels.triton_backend` is imported, so ``TRITON_INTERPRET=1`` is
set here, before any test module imports it, and the module is reloaded if an earlier test
folder already imported it without the interpreter. Without triton installed the folder is
skipped. The variable stays set for the rest of the session; nothing else in the package uses
Triton on the CPU.
"""

import importlib
import importlib.util
import os
import sys

if importlib.util.find_spec("triton") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    os.environ["TRITON_INTERPRET"] = "1"
    _BACKEND = "lstm_odyssey.kernels.triton_backend"
    if _BACKEND in sys.modules:
        importlib.reload(sys.modules[_BACKEND])
