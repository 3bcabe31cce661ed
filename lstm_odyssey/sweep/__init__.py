"""Optuna sweeps of LSTM variants: study files, planning, storage, workers and executors.

Keep this ``__init__`` free of heavy imports: :mod:`lstm_odyssey.analysis` and ``status`` read
:mod:`lstm_odyssey.sweep.schema` and the study files without pulling in torch.
"""
