"""The paper's figures (docs/paper.md §Analysis) with matplotlib (Agg) and seaborn; each is
written as PNG
and SVG and the PNG path is returned."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..sweep import schema
from ..variants import PRESET_NAMES
from .fanova import Fanova
from .labels import LABELS, metric_label
from .outcomes import TEST, counted
from .stats import REFERENCE, top_trials
from .table import Dim

VERDICT_COLORS = {"worse": "#d62728", "better": "#2ca02c", "n.s.": "#9ecae1",
                  "too few trials": "#dddddd", "reference": "#7f7f7f"}
NICE_TICKS = (1, 2, 5)
sns.set_theme(style="whitegrid", context="notebook")


def save(fig: plt.Figure, out_dir: Path, name: str) -> Path:
    """Write ``name``.png and ``name``.svg into ``out_dir`` and close the figure; neither file
    carries the date it was written, so a report regenerated from the same storage is the
    same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / f"{name}.png", dpi=100, bbox_inches="tight")
    with matplotlib.rc_context({"svg.hashsalt": "lstm-odyssey"}):  # SVG ids not random
        fig.savefig(out_dir / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return out_dir / f"{name}.png"


def variant_order(variants: pd.Series | list[str]) -> list[str]:
    """Vanilla and the presets in the paper's order, then any combinations alphabetically."""
    present = set(variants)
    return [v for v in PRESET_NAMES if v in present] + sorted(present - set(PRESET_NAMES))


def log_axis(ax: plt.Axes, dim: Dim, axis: str = "x") -> None:
    """Log scale over the study's own range [dim.low, dim.high]; a range of less than two
    decades gets plain 1-2-5 tick labels inside it (e.g. 5, 10 for hidden sizes 4–12)."""
    getattr(ax, f"set_{axis}scale")("log")
    getattr(ax, f"set_{axis}lim")(dim.low, dim.high)
    if dim.high / dim.low < 100:
        decades = range(math.floor(math.log10(dim.low)), math.ceil(math.log10(dim.high)) + 1)
        ticks = [m * 10**e for e in decades for m in NICE_TICKS
                 if dim.low <= m * 10**e <= dim.high] or [dim.low, dim.high]
        getattr(ax, f"set_{axis}ticks")(ticks, [f"{t:g}" for t in ticks])
        getattr(ax, f"{axis}axis").set_minor_formatter(matplotlib.ticker.NullFormatter())


def boxplots(trials: pd.DataFrame, comparison: pd.DataFrame, task: str, out_dir: Path,
             fraction: float = 0.1) -> Path:
    """Fig. 3: test outcome per variant (:mod:`.outcomes`: diverged runs included, clipped at
    the trivial baseline), all trials and the best ``fraction`` by validation; boxes coloured
    by the Welch verdict against vanilla, mean parameter count of the best ``fraction`` on the
    right axis."""
    tg = trials[trials["task"] == task]
    order = variant_order(tg["variant"])
    verdicts = comparison[comparison["task"] == task].set_index("variant")["verdict"].to_dict()
    colors = [VERDICT_COLORS["reference" if v == REFERENCE else verdicts.get(v, "n.s.")]
              for v in order]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=False)
    pct = round(fraction * 100)
    for ax, top in zip(axes, (False, True)):
        data, params = [], []
        for v in order:
            g = tg[tg["variant"] == v]
            sel = top_trials(g, fraction) if top else counted(g)
            data.append(sel[TEST].to_numpy())
            params.append(sel["n_parameters"].mean())
        box = ax.boxplot(data, tick_labels=order, patch_artist=True, showfliers=not top,
                         medianprops={"color": "black"})
        for patch, c in zip(box["boxes"], colors):
            patch.set_facecolor(c)
        ax.set_title(f"{task}: {'best ' + str(pct) + ' %' if top else 'all trials'}")
        ax.set_ylabel(f"test {metric_label(tg['metric'].iloc[0])}")
        ax.tick_params(axis="x", rotation=45)
        if top:
            twin = ax.twinx()
            twin.plot(range(1, len(order) + 1), np.array(params) / 1e3, "k^", ms=6)
            twin.set_ylabel("mean parameters (thousands) ▲")
            twin.grid(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in VERDICT_COLORS.values()]
    fig.legend(handles, ["worse (p<0.05)", "better (p<0.05)", "n.s.", "too few trials",
                         "vanilla"], loc="lower center", ncol=5, bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    return save(fig, out_dir, f"fig3_boxplots_{task}")


def marginals(fa_metric: Fanova, fa_time: Fanova | None, task: str, metric: str,
              out_dir: Path) -> Path:
    """Fig. 4: predicted test metric (top row) and training time (bottom row) against learning
    rate, hidden size and input noise, mean ± 1 std across the forest's trees."""
    params = [p for p in (schema.LEARNING_RATE, schema.HIDDEN_SIZE, schema.INPUT_NOISE)
              if p in fa_metric.params]
    rows = [(fa_metric, f"test {metric_label(metric)}")]
    if fa_time is not None:
        rows.append((fa_time, "training time (h)"))
    fig, axes = plt.subplots(len(rows), len(params), figsize=(4 * len(params), 3.2 * len(rows)),
                             squeeze=False)
    for r, (fa, ylabel) in enumerate(rows):
        scale = 1 / 3600 if r == 1 else 1.0
        for c, p in enumerate(params):
            m = fa.marginal(p)
            ax = axes[r, c]
            ax.plot(m["x"], m["mean"] * scale, color="C0" if r == 0 else "C1")
            ax.fill_between(m["x"], (m["mean"] - m["std"]) * scale,
                            (m["mean"] + m["std"]) * scale, alpha=0.3,
                            color="C0" if r == 0 else "C1")
            if fa.space[p].log:
                log_axis(ax, fa.space[p])
            else:
                ax.set_xlim(fa.space[p].low, fa.space[p].high)
            ax.set_xlabel(LABELS.get(p, p))
            if c == 0:
                ax.set_ylabel(ylabel)
    fig.suptitle(f"{task}, vanilla: marginal effects (fANOVA, ±1 std across trees)")
    fig.tight_layout()
    return save(fig, out_dir, f"fig4_marginals_{task}")


def importance(fanovas: dict[str, Fanova], out_dir: Path, n_pairs: int = 4) -> Path:
    """Fig. 5: fraction of variance of each hyperparameter and the largest pairs, per task
    (vanilla's forest), mean ± std across trees."""
    fig, axes = plt.subplots(1, len(fanovas), figsize=(4.5 * len(fanovas), 3.8), squeeze=False,
                             sharey=True)
    for ax, (task, fa) in zip(axes[0], fanovas.items()):
        main = fa.main_effects()
        pairs = fa.pair_effects().nlargest(n_pairs, "mean")
        labels = [LABELS.get(p, p) for p in main["param"]] + [
            f"{LABELS.get(a, a)} × {LABELS.get(b, b)}" for a, b in zip(pairs["param_a"],
                                                                      pairs["param_b"])]
        means = np.r_[main["mean"], pairs["mean"]] * 100
        stds = np.r_[main["std"], pairs["std"]] * 100
        colors = ["C0"] * len(main) + ["C2"] * len(pairs)
        ax.barh(range(len(labels)), means, xerr=stds, color=colors)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("% of variance")
        ax.set_title(f"{task}, vanilla (OOB R² {fa.oob_r2:.2f})")
    fig.tight_layout()
    return save(fig, out_dir, "fig5_importance")


def interactions(fa: Fanova, task: str, metric: str, out_dir: Path) -> Path:
    """Fig. 6: predicted test metric over learning rate × each other hyperparameter."""
    others = [p for p in fa.params if p != schema.LEARNING_RATE]
    fig, axes = plt.subplots(1, len(others), figsize=(4.6 * len(others), 3.8), squeeze=False)
    for ax, p in zip(axes[0], others):
        xa, xb, mean, _ = fa.marginal_pair(schema.LEARNING_RATE, p)
        mesh = ax.pcolormesh(xa, xb, mean.T, shading="nearest", cmap="viridis_r", rasterized=True)
        log_axis(ax, fa.space[schema.LEARNING_RATE])
        if fa.space[p].log:
            log_axis(ax, fa.space[p], "y")
        else:
            ax.set_ylim(fa.space[p].low, fa.space[p].high)
        ax.set_xlabel(LABELS[schema.LEARNING_RATE])
        ax.set_ylabel(LABELS.get(p, p))
        fig.colorbar(mesh, ax=ax, label=f"test {metric_label(metric)}")
    fig.suptitle(f"{task}, vanilla: pairwise marginals with the learning rate")
    fig.tight_layout()
    return save(fig, out_dir, f"fig6_interactions_{task}")


def learning_curves(trials: pd.DataFrame, task: str, out_dir: Path) -> Path:
    """Validation metric per epoch of each variant's best trial (by validation)."""
    tg = trials[trials["task"] == task]
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, v in enumerate(variant_order(tg["variant"])):
        best = top_trials(tg[tg["variant"] == v], 0.0)
        if best.empty or not best["history"].iloc[0]:
            continue
        h = pd.DataFrame(best["history"].iloc[0])
        if not {"epoch", "valid_metric"} <= set(h.columns):
            continue
        ax.plot(h["epoch"], h["valid_metric"], label=v, color=f"C{i % 10}",
                lw=2 if v == REFERENCE else 1.2)
    if not ax.lines:
        ax.text(0.5, 0.5, "no per-epoch histories recorded", ha="center", va="center",
                transform=ax.transAxes)
    else:
        ax.legend(ncol=3, fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric_label(tg['metric'].iloc[0])}")
    ax.set_title(f"{task}: learning curve of each variant's best trial")
    fig.tight_layout()
    return save(fig, out_dir, f"learning_curves_{task}")


def budget_curves(curves: dict, task: str, metric: str, out_dir: Path,
                  reference: str = REFERENCE) -> Path:
    """Expected best test metric after k configurations selected by validation
    (:mod:`.budget`), each variant's curve with its bootstrap band (the reference's shaded
    darker), log-scaled k."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, v in enumerate(variant_order(list(curves))):
        c = curves[v]
        ax.plot(c.k, c.expected, label=v, color=f"C{i % 10}", lw=2 if v == reference else 1.2)
        ax.fill_between(c.k, c.low, c.high, color=f"C{i % 10}",
                        alpha=0.25 if v == reference else 0.08, lw=0)
    if not ax.lines:
        ax.text(0.5, 0.5, "no configurations with an outcome", ha="center", va="center",
                transform=ax.transAxes)
    else:
        ax.set_xscale("log")
        ax.legend(ncol=3, fontsize=8)
    ax.set_xlabel("k, configurations searched")
    ax.set_ylabel(f"expected best test {metric_label(metric)}")
    ax.set_title(f"{task}: expected result of a random search of k configurations")
    fig.tight_layout()
    return save(fig, out_dir, f"budget_{task}")
