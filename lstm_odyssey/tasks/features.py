"""Speech features as in the paper (docs/paper.md §Tasks): 13 MFCCs including c0, plus Δ and ΔΔ.

16 kHz audio, pre-emphasis ``x'_n = x_n − 0.97 x_{n−1}``, 25 ms Hamming windows every 10 ms,
512-point power spectrum, 26 triangular mel filters over 0–8 kHz
(``mel(f) = 2595 log10(1 + f/700)``), log filter energies, orthonormal DCT-II → c0…c12.
Deltas use a ±2-frame regression ``Δc_t = Σ_{n=1}^{2} n (c_{t+n} − c_{t−n}) / (2 Σ n²)`` with
edge frames repeated; ΔΔ is the Δ of Δ. The label of a frame is the phone at its centre.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import dct, rfft

from .definition import TaskFacts
from .kinds import Source, StandsFor, TaskKind

RATE = 16000
WIN = 400           # 25 ms
HOP = 160           # 10 ms
NFFT = 512
NMEL = 26
NCEP = 13


def num_frames(num_samples: int) -> int:
    """Frames of a signal: ``1 + (n − 400) // 160`` (at least 1; short signals are padded)."""
    return 1 + max(0, num_samples - WIN) // HOP


def frame_centres(n_frames: int) -> np.ndarray:
    """Centre sample (16 kHz) of each frame."""
    return np.arange(n_frames) * HOP + WIN // 2


def frames(signal: np.ndarray) -> np.ndarray:
    """The signal cut into overlapping Hamming-windowed frames ``[T, 400]`` (no pre-emphasis)."""
    x = np.asarray(signal, dtype=np.float64)
    n = num_frames(len(x))
    x = np.pad(x, (0, max(0, (n - 1) * HOP + WIN - len(x))))
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    return x[idx] * np.hamming(WIN)


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """Triangular mel filters ``[26, 257]`` over the bins of a 512-point FFT at 16 kHz."""
    mel = np.linspace(0, 2595 * np.log10(1 + (RATE / 2) / 700), NMEL + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    bins = np.fft.rfftfreq(NFFT, 1 / RATE)
    fb = np.zeros((NMEL, len(bins)))
    for m in range(NMEL):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        fb[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return fb


def power_spectrum(signal: np.ndarray) -> np.ndarray:
    """Per-frame power spectrum ``[T, 257]`` of the pre-emphasised signal."""
    x = np.asarray(signal, dtype=np.float64)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    z = rfft(frames(x), NFFT)
    return (z.real ** 2 + z.imag ** 2) / NFFT


def deltas(c: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over ±``width`` frames, edges repeated."""
    p = np.pad(c, ((width, width), (0, 0)), mode="edge")
    n = len(c)
    num = sum(k * (p[width + k:width + k + n] - p[width - k:width - k + n])
              for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def mfcc(signal: np.ndarray) -> np.ndarray:
    """39-dim MFCC + Δ + ΔΔ features ``[T, 39]`` (float32) of a 16 kHz signal."""
    logmel = np.log(power_spectrum(signal) @ mel_filterbank().T + 1e-10)
    c = dct(logmel, type=2, norm="ortho", axis=1)[:, :NCEP]
    d = deltas(c)
    return np.hstack([c, d, deltas(d)]).astype(np.float32)


def frame_labels(starts: np.ndarray, labels: np.ndarray, n_frames: int,
                 default: int) -> np.ndarray:
    """Label of each frame: the segment whose start is the last at or before the frame
    centre (``default`` before the first start). ``starts`` in 16 kHz samples, sorted."""
    pos = np.searchsorted(starts, frame_centres(n_frames), side="right") - 1
    out = np.where(pos >= 0, labels[np.clip(pos, 0, None)], default)
    return out.astype(np.int64)


def speech_facts(name: str, source: Source, description: str, names: list[str],
                 stands_for: StandsFor) -> TaskFacts:
    """The facts of a speech task over these features: 39 inputs (all z-normalised), one
    class per frame from ``names``, a bidirectional network."""
    return TaskFacts(name=name, source=source, description=description, input_size=3 * NCEP,
                     num_classes=len(names), loss=TaskKind.FRAMEWISE_CE, bidirectional=True,
                     class_names=names, norm_columns=slice(None), target_dtype="int64",
                     stands_for=stands_for)
