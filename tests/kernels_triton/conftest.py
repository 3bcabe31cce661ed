"""Run the Triton backend's kernels on the CPU through Triton's interpreter, in this folder only.

``triton.jit`` chooses between the compiler and the interpreter when a kernel is decorated,
i.e. when :mod:`lstm_odyssey.kernels.triton_backend` is imported. So this conftest imports it
(or reloads it, if an earlier folder imported it) with ``TRITON_INTERPRET=1`` set, then restores
the variable: other folders are collected and run as without this one (``available_backends``
reads the variable, and the interpreter is far too slow for their gradchecks). The dispatcher
accepts CPU tensors for ``backend="triton"`` only while the variable is set, so every test here
sets it again. Without triton installed the folder is skipped.
"""

import importlib
import importlib.util
import os
import sys

import pytest

_BACKEND = "lstm_odyssey.kernels.triton_backend"

if importlib.util.find_spec("triton") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    _before = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        if _BACKEND in sys.modules:
            importlib.reload(sys.modules[_BACKEND])
        else:
            importlib.import_module(_BACKEND)
    finally:
        if _before is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = _before


@pytest.fixture(autouse=True)
def _interpret(monkeypatch):
    """Let the dispatcher send CPU tensors to the (interpreted) triton backend."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
