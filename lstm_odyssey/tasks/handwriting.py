"""``handwriting-synth``: online handwriting lines rendered from Hershey stroke fonts.

A line of text is laid out glyph by glyph in one of the script or print Hershey fonts (with
letter-spacing jitter in print fonts); in script fonts consecutive strokes closer than 0.75
font units are joined into pen-down words and i/j dots come after the word. A writer writes
up to 10 lines (fewer in small splits, so that every split has at least 24 writers) and fixes
a font, slant, x/y scales, rotation, baseline wobble and pen speed. Fonts are dealt to the
writers of every split in the same cycle, so each split covers every font in the same
proportions. Each line adds a smooth elastic warp ``(x, y) += Σ_k a_k sin(ω_k·(x, y) + φ_k)``
and point jitter. Strokes are resampled to constant pen speed with 9–13 points per character
(:data:`POINTS_PER_CHAR`; ~13 per character of text, spaces and pen moves included: about half
as long as IAM-OnDB lines after their ×½ subsampling. Measured in
``results/odyssey-free/calibration.md``: against 18–26 points per character a run costs 0.6×
and learns no worse). Each point has the paper's four inputs:
``(Δx, Δy, time since stroke start, pen-up)``, pen-up = 1 on the last point of every stroke.
Targets are the line's characters (1-based indices into :data:`ALPHABET`; 0 is the CTC blank).
Train/valid/test share neither lines nor writers.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from functools import cache

import numpy as np

from . import text
from .cache import cached
from .common import (
    SPLITS,
    Corpus,
    gather_splits,
    group_size,
    item_rng,
    parallel_map,
    split_counts,
)
from .definition import Prepared, TaskFacts, TaskInfo
from .describe import draw_strokes
from .kinds import PaperDataset, Source, StandsFor, TaskKind

GENERATOR_VERSION = 4
ALPHABET = " " + string.ascii_letters + string.digits + "!\"#&'()*+,-./:;?"
SCRIPT_FONTS = ("cursive", "scripts", "scriptc")
PRINT_FONTS = ("futural", "futuram", "rowmans", "rowmand", "rowmant", "timesr", "timesi",
               "timesrb", "timesib")
FONTS = SCRIPT_FONTS + PRINT_FONTS
DEMO = (150, 40, 40)
FULL = (5355, 2956, 3859)
LINES_PER_WRITER = 10       # at most; see common.group_size
MIN_WRITERS = 2 * len(FONTS)  # per split, when the split has that many lines
POINTS_PER_CHAR = (9.0, 13.0)  # measured: see results/odyssey-free/calibration.md
LINE_CHARS = (10, 35)       # characters per line, from–to (measured: see POINTS_PER_CHAR)
JOIN_GAP = 0.75


@cache
def _font(name: str):  # HersheyFonts has no type stubs
    from HersheyFonts import HersheyFonts

    f = HersheyFonts()
    f.load_default_font(name)
    return f


def encode(line: str, alphabet: str = ALPHABET) -> np.ndarray:
    """CTC targets of a line: ``1 + alphabet.index(c)`` per character."""
    return np.array([1 + alphabet.index(c) for c in line], dtype=np.int64)


def layout(line: str, font: str, rng: np.random.Generator, spacing: float) -> list[np.ndarray]:
    """Strokes (float arrays ``[n, 2]``, y up) of ``line`` set in a Hershey font. In print
    fonts each glyph's advance is scaled by ``spacing`` times a per-letter jitter. Script
    fonts keep the font's advances so that letters join end to start (strokes closer than
    :data:`JOIN_GAP` are merged), and their dots (strokes under 2 units across) are written
    after the word, as people do."""
    glyphs = _font(font).all_glyphs
    script = font in SCRIPT_FONTS
    strokes: list[np.ndarray] = []
    dots: list[np.ndarray] = []
    cursor = 0.0
    for ch in line + " ":
        g = glyphs[ch]
        for st in g.strokes:
            pts = np.asarray(st, dtype=np.float64)
            pts = np.column_stack([pts[:, 0] - g.left_offset + cursor, -pts[:, 1]])
            small = np.ptp(pts, axis=0).max() < 2
            (dots if script and small else strokes).append(pts)
        if ch == " ":
            strokes += dots
            dots = []
        cursor += g.char_width if script else g.char_width * spacing * rng.uniform(0.92, 1.08)
    if script and strokes:
        merged = [strokes[0]]
        for st in strokes[1:]:
            if np.hypot(*(st[0] - merged[-1][-1])) < JOIN_GAP:
                merged[-1] = np.vstack([merged[-1], st[1:]])
            else:
                merged.append(st)
        strokes = merged
    return strokes


def resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` units of arc length along a polyline (ends kept)."""
    seg = np.hypot(*np.diff(stroke, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] <= 0:
        return stroke[:1]
    n = max(2, round(arc[-1] / step) + 1)
    s = np.linspace(0.0, arc[-1], n)
    return np.column_stack([np.interp(s, arc, stroke[:, 0]), np.interp(s, arc, stroke[:, 1])])


@dataclass(frozen=True)
class LineSpec:
    """Everything that determines one rendered line."""

    split: str
    index: int
    seed: int
    text: str
    writer: int
    points_per_char: tuple[float, float] = POINTS_PER_CHAR


def writer_font(seed: int, writer: int) -> str:
    """The font of writer ``writer`` of any split: the fonts in one seeded cycle, so that
    every split covers every font in the same proportions."""
    order = np.random.default_rng([seed, 271829]).permutation(len(FONTS))
    return FONTS[order[writer % len(FONTS)]]


def writer_style(seed: int, split: str, writer: int,
                 points_per_char: tuple[float, float] = POINTS_PER_CHAR) -> dict[str, float | str]:
    """The fixed style of one synthetic writer; its points per character are drawn
    uniformly from ``points_per_char``."""
    rng = np.random.default_rng([seed, SPLITS.index(split), writer, 271828])
    return {"font": writer_font(seed, writer), "slant": rng.uniform(-0.15, 0.45),
            "sx": rng.uniform(0.85, 1.2), "sy": rng.uniform(0.85, 1.2),
            "rot": rng.uniform(-0.04, 0.04), "spacing": rng.uniform(0.9, 1.15),
            "wobble": rng.uniform(0.0, 1.5), "speed": rng.uniform(0.7, 1.4),
            "ppc": rng.uniform(*points_per_char)}


def strokes_of(spec: LineSpec) -> list[np.ndarray]:
    """The augmented, resampled pen strokes of one line (before feature extraction)."""
    rng = item_rng(spec.seed, spec.split, spec.index)
    st = writer_style(spec.seed, spec.split, spec.writer, spec.points_per_char)
    strokes = layout(spec.text, str(st["font"]), rng, float(st["spacing"]))
    pts = np.vstack(strokes)
    x, y = pts[:, 0], pts[:, 1]
    # affine: slant (shear), scale, rotation; then baseline wobble and an elastic warp
    x = x + st["slant"] * y
    x, y = x * st["sx"], y * st["sy"]
    c, s = math.cos(st["rot"]), math.sin(st["rot"])
    x, y = c * x - s * y, s * x + c * y
    y = y + st["wobble"] * np.sin(2 * np.pi * x / rng.uniform(150, 400) + rng.uniform(0, 6.3))
    for _ in range(3):
        w = rng.normal(0, 1 / 60, 2)
        ph = rng.uniform(0, 2 * np.pi, 2)
        amp = rng.uniform(0, 0.8, 2)
        x = x + amp[0] * np.sin(w[0] * x + w[1] * y + ph[0])
        y = y + amp[1] * np.sin(w[1] * x - w[0] * y + ph[1])
    warped = np.split(np.column_stack([x, y]), np.cumsum([len(q) for q in strokes])[:-1])
    ink = sum(np.hypot(*np.diff(q, axis=0).T).sum() for q in warped)
    n_chars = max(1, sum(ch != " " for ch in spec.text))
    step = max(ink / (st["ppc"] * n_chars), 0.2)
    out = []
    for q in warped:
        r = resample(q, step)
        out.append(r + rng.normal(0, 0.08 * step, r.shape))
    return out


def point_features(strokes: list[np.ndarray], speed: float = 1.0) -> np.ndarray:
    """``[T, 4]`` float32: Δx, Δy (from the previous point, 0 for the first), time since the
    stroke's first point (points are equally spaced in time, 1/``speed`` apart) and pen-up
    (1 on each stroke's last point)."""
    pts = np.vstack(strokes)
    d = np.diff(pts, axis=0, prepend=pts[:1])
    t = np.concatenate([np.arange(len(q)) / speed for q in strokes])
    up = np.concatenate([np.eye(1, len(q), len(q) - 1)[0] for q in strokes])
    return np.column_stack([d, t, up]).astype(np.float32)


def strokes_from_features(x: np.ndarray) -> list[np.ndarray]:
    """Inverse of :func:`point_features` for drawing: pen positions split at pen-ups."""
    pts = np.cumsum(x[:, :2].astype(np.float64), axis=0)
    ends = np.flatnonzero(x[:, 3] > 0.5) + 1
    return [p for p in np.split(pts, ends) if len(p)]


def line(spec: LineSpec) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[T, 4]`` and CTC targets ``[L]`` of one line."""
    st = writer_style(spec.seed, spec.split, spec.writer, spec.points_per_char)
    return point_features(strokes_of(spec), float(st["speed"])), encode(spec.text)


def plan(counts: tuple[int, int, int], seed: int,
         points_per_char: tuple[float, float] = POINTS_PER_CHAR,
         line_chars: tuple[int, int] = LINE_CHARS) -> list[LineSpec]:
    """Lines of all splits: disjoint slices of one text pool; line i of a split of n lines
    is written by its writer ``i // group_size(n, MIN_WRITERS, LINES_PER_WRITER)``."""
    pool = text.pool(sum(counts), seed, lambda: text.corpus_lines(ALPHABET, *line_chars),
                     max_len=line_chars[1])
    first = np.cumsum([0, *counts])
    return [LineSpec(split, i, seed, pool[first[k] + i],
                     i // group_size(n, MIN_WRITERS, LINES_PER_WRITER), points_per_char)
            for k, (split, n) in enumerate(zip(SPLITS, counts)) for i in range(n)]


def build(counts: tuple[int, int, int], seed: int, progress: bool = False,
          points_per_char: tuple[float, float] = POINTS_PER_CHAR,
          line_chars: tuple[int, int] = LINE_CHARS) -> Corpus:
    """Render all lines (2 processes) into a corpus."""
    specs = plan(counts, seed, points_per_char, line_chars)
    results = parallel_map(line, specs, progress=progress, desc="handwriting-synth: rendering")
    ids = [f"w{spec.writer}/{spec.index}: {spec.text}" for spec in specs]
    splits = gather_splits(specs, results, ids)
    return Corpus(**splits, meta={"alphabet": ALPHABET})


def handwriting_facts(name: str, source: Source, description: str, alphabet: str,
                      stands_for: StandsFor) -> TaskFacts:
    """The facts of a handwriting task: (Δx, Δy, t, pen-up) per point with the first three
    z-normalised, CTC over ``alphabet`` plus the blank at 0, a bidirectional network."""
    return TaskFacts(name=name, source=source, description=description, input_size=4,
                     num_classes=len(alphabet) + 1, loss=TaskKind.CTC, bidirectional=True,
                     class_names=["<blank>", *alphabet], norm_columns=[0, 1, 2],
                     target_dtype="int64", stands_for=stands_for)


def _prepare(size: str | int, path: str | None, seed: int, progress: bool) -> Prepared:
    """Lines generated at ``size`` (cached per size, seed and generator settings)."""
    counts = split_counts(size, DEMO, FULL)
    config = {"task": "handwriting-synth", "source": "hershey-fonts", "size": counts,
              "seed": seed, "version": GENERATOR_VERSION,
              "points_per_char": list(POINTS_PER_CHAR), "line_chars": list(LINE_CHARS)}
    corpus = cached(config, lambda: build(counts, seed, progress))
    desc = (f"online handwriting rendered from Hershey fonts ({'/'.join(map(str, counts))} "
            f"lines, seed {seed}), (Δx, Δy, t, pen-up) per point, CTC over characters")
    return Prepared(corpus, handwriting_facts("handwriting-synth", Source.GENERATED, desc, ALPHABET,
                                      StandsFor(PaperDataset.IAM)),
                    draw_strokes)


TASK = TaskInfo("handwriting-synth", "online handwriting rendered from Hershey stroke fonts, "
                "CTC over characters", needs_path=False, path_optional=False, options=(),
                prepare=_prepare)
