"""Optuna sweeps of LSTM variants: study files, planning, storage, workers and executors.

Keep this ``__init__`` free of heavy imports: :mod:`lstm_odyssey.analysis` reads
:mod:`lstm_odyssey.sweep.schema` without pulling in torch.
"""
