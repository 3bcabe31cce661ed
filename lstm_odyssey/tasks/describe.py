"""What ``lstm-odyssey data info`` and ``data show`` print and draw, as library functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .common import SPLITS, TaskNameError
from .definition import Prepared
from .kinds import Targets


def summary(prepared: Prepared) -> dict[str, Any]:
    """Per split: sequences, total steps, min/median/max length and class frequencies
    (frames per phone, characters, steps on per note, or sequences per class; none for
    real-valued targets), plus the kind, input size, output size and what it stands for."""
    f = prepared.facts
    names = f.class_names
    out: dict[str, Any] = {"task": f.name, "source": str(f.source),
                           "description": f.description, "kind": f.loss.spec.label,
                           "stands_for": f.stands_for.label if f.stands_for else None,
                           "input_size": f.input_size, "num_classes": f.num_classes,
                           "loss": str(f.loss), "metric": f.loss.metric,
                           "bidirectional": f.bidirectional, "splits": {}}
    counted = f.loss.spec.targets is not Targets.STEP_VALUES
    for s in SPLITS:
        raw = prepared.corpus.split(s)
        lens = np.array([len(x) for x in raw.inputs], dtype=np.int64)
        out["splits"][s] = {
            "sequences": len(raw), "steps": int(lens.sum()),
            "min_len": int(lens.min()) if len(lens) else 0,
            "median_len": float(np.median(lens)) if len(lens) else 0.0,
            "max_len": int(lens.max()) if len(lens) else 0,
            "class_counts": {n: int(c) for n, c in zip(names, _class_counts(raw.targets, names))
                             if c > 0} if counted else {},
        }
    return out


def _class_counts(targets: list[np.ndarray], names: list[str]) -> np.ndarray:
    """How often each class occurs: steps on per column of multi-hot targets ``[T, C]``,
    occurrences of each label in label sequences."""
    if not targets:
        return np.zeros(len(names), np.int64)
    if targets[0].ndim == 2:
        return sum(y.sum(0, dtype=np.int64) for y in targets)
    return np.bincount(np.concatenate(targets).astype(np.int64), minlength=len(names))


def format_summary(info: dict[str, Any], top: int = 12) -> str:
    """The summary as readable text (the ``top`` most frequent classes per split)."""
    sf = info.get("stands_for")  # "TIMIT" (the dataset itself) or "for TIMIT" (a stand-in)
    stands = "" if not sf else f", {'stands in ' if sf.startswith('for ') else 'is '}{sf}"
    lines = [f"{info['task']} ({info['source']}{stands}): {info['description']}",
             (f"{info['kind']}: input size {info['input_size']}, output size "
              f"{info['num_classes']}, loss {info['loss']}, metric {info['metric']}, "
              f"{'bidirectional' if info['bidirectional'] else 'unidirectional'} network")]
    for s, d in info["splits"].items():
        lines.append(f"{s:5s}: {d['sequences']} sequences, {d['steps']} steps, length "
                     f"min {d['min_len']} / median {d['median_len']:g} / max {d['max_len']}")
        total = sum(d["class_counts"].values()) or 1
        common = sorted(d["class_counts"].items(), key=lambda kv: -kv[1])[:top]
        if common:
            lines.append("       " + ", ".join(f"{k!r} {100 * v / total:.1f}%"
                                               for k, v in common))
    return "\n".join(lines)


class OutputError(UserError, OSError):
    """An output file that cannot be written (wrong kind, folder not creatable)."""


def _output(out: str | Path, kinds: dict[str, str]) -> Path:
    """``out`` checked: an image file type matplotlib writes, in a folder created if needed."""
    out = Path(out)
    if out.suffix.lstrip(".").lower() not in kinds:
        raise OutputError(f"{out}: cannot draw into a '{out.suffix}' file; name a .png (or "
                          ".svg, .pdf) file with -o")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the folder of {out} ({e.strerror}); choose another "
                          "-o") from None
    return out


def draw(prepared: Prepared, out: str | Path, split: str = "train", index: int = 0) -> Path:
    """Draw one raw example to an image file with the task's drawer (a piano roll, a feature
    image with phone labels, or the pen strokes of a handwriting line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    out = _output(out, FigureCanvasBase.get_supported_filetypes())
    raw = prepared.corpus.split(split)
    if not 0 <= index < len(raw):
        raise TaskNameError(f"example {index} does not exist; {split} has {len(raw)} sequences")
    title = f"{prepared.facts.name} {split}[{index}]: {raw.ids[index]}"
    fig = prepared.draw(raw.inputs[index], raw.targets[index], title, prepared.facts.class_names)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120)
    except OSError as e:
        raise OutputError(f"cannot write {out} ({e.strerror}); choose a writable -o") from None
    finally:
        plt.close(fig)
    return out


def draw_roll(x: np.ndarray, y: np.ndarray, title: str, names: list[str]):
    """A piano roll (steps × notes), octaves marked at the C's."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.imshow(x.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set(xlabel="step", ylabel="note", title=title)
    ticks = [i for i, n in enumerate(names) if n.startswith("C") and "#" not in n]
    ax.set_yticks(ticks, [names[i] for i in ticks])
    return fig


def draw_frames(x: np.ndarray, y: np.ndarray, title: str, names: list[str]):
    """Speech features (z-scored per column) with the phone of each segment above them."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4))
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    ax.imshow(z.T, origin="lower", aspect="auto", cmap="magma", interpolation="nearest")
    bounds = np.flatnonzero(np.diff(y)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(y)]):
        ax.axvline(a - 0.5, color="w", lw=0.4)
        ax.text((a + b - 1) / 2, x.shape[1] + 0.5, names[y[a]], ha="center", va="bottom",
                fontsize=6, rotation=90)
    ax.set(xlabel="frame (10 ms)", ylabel="MFCC | Δ | ΔΔ (z-scored)")
    ax.set_title(title, fontsize=8, pad=18)
    return fig


def draw_strokes(x: np.ndarray, y: np.ndarray, title: str, names: list[str]):
    """The pen strokes of a handwriting line, titled with its transcription."""
    import matplotlib.pyplot as plt

    from .handwriting import strokes_from_features

    fig, ax = plt.subplots(figsize=(12, 3))
    for s in strokes_from_features(x):
        ax.plot(s[:, 0], s[:, 1], "k-", lw=1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("".join(names[i] for i in y), fontsize=9)
    return fig


def draw_sequence(x: np.ndarray, y: np.ndarray, title: str, names: list[str]):
    """Any dataset's sequence: its inputs (steps × columns, z-scored per column) above its
    targets — a band of classes, a 0/1 image, curves of values, or the labels in the title."""
    import matplotlib.pyplot as plt

    per_step = y.ndim == 2 or len(y) == len(x) and len(x) > 1
    fig, axes = plt.subplots(2 if per_step else 1, 1, figsize=(10, 5 if per_step else 3),
                             sharex=True, squeeze=False)
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    axes[0, 0].imshow(z.T, origin="lower", aspect="auto", cmap="magma", interpolation="nearest")
    axes[0, 0].set(ylabel="input column")
    if not per_step:
        text = " ".join(names[int(i)] if int(i) < len(names) else str(int(i)) for i in y)
        title = f"{title} → {text[:80]}"
    elif y.ndim == 1:
        axes[1, 0].imshow(y[None, :], aspect="auto", cmap="tab20", interpolation="nearest")
        axes[1, 0].set(ylabel="class", yticks=[])
    elif np.isin(y, (0, 1)).all():
        axes[1, 0].imshow(y.T, origin="lower", aspect="auto", cmap="Greys",
                          interpolation="nearest")
        axes[1, 0].set(ylabel="output")
    else:
        for k in range(y.shape[1]):
            axes[1, 0].plot(y[:, k], lw=1, label=names[k] if k < len(names) else str(k))
        axes[1, 0].legend(fontsize=6, loc="upper right")
        axes[1, 0].set(ylabel="target")
    axes[-1, 0].set(xlabel="step")
    axes[0, 0].set_title(title, fontsize=9)
    return fig
