"""The report model of an :class:`.pipeline.Analysis`: which sections, in which order, with
which tables, figures and words. Every view (:mod:`.render`) renders exactly these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..sweep import schema
from . import figures
from .decisive import PLANNED
from .findings import EVIDENCE_SEP
from .labels import cell_family, metric_label
from .model import (
    Block,
    Bullets,
    Cell,
    Figure,
    Heading,
    Matrix,
    MatrixRow,
    Report,
    Section,
    Table,
    Text,
    Tone,
    Verdict,
)
from .pipeline import FRACTION, PCT, Analysis
from .ranking import PTB_ORDER, ptb_check, ranking
from .render import TONES
from .stats import POWER_N, REFERENCE, verdict_text
from .views import (
    DECISIVE_VERDICT,
    RANKING_INTRO,
    RULES,
    STRICT_VERDICT,
    budget_view,
    cap_intro,
    cap_view,
    findings_view,
    gate_note,
    headline_cap_view,
    incomplete_warning,
    overview,
    paired_view,
    ped_view,
    plan_line,
    plan_view,
    pooled_view,
    progress_line,
    protocol_view,
    ranking_view,
    ranks_view,
    robust_view,
    seeds_view,
    significance_view,
    vanilla_effects_view,
    variant_effects_view,
    variants_view,
    versions_view,
)

FigureSet = dict[str, list[Path]]


def make_figures(a: Analysis, fig_dir: Path) -> FigureSet:
    """Every figure of the report, written into ``fig_dir`` (PNG and SVG), by group."""
    out: FigureSet = {"fig3": [], "fig4": [], "fig5": [], "fig6": [], "curves": []}
    for t in a.tasks:
        out["fig3"].append(figures.boxplots(a.trials, a.comparison, t.task, fig_dir, FRACTION))
        fa_m = t.metric_fanova.fanova if t.metric_fanova else None
        fa_t = t.time_fanova.fanova if t.time_fanova else None
        searched = fa_m.params if fa_m is not None else []
        if {schema.LEARNING_RATE, schema.HIDDEN_SIZE, schema.INPUT_NOISE} & set(searched):
            out["fig4"].append(figures.marginals(fa_m, fa_t, t.task, t.metric, fig_dir))
            if schema.LEARNING_RATE in searched and len(searched) > 1:
                out["fig6"].append(figures.interactions(fa_m, t.task, t.metric, fig_dir))
        out["curves"].append(figures.learning_curves(a.trials, t.task, fig_dir))
    out["budget"] = [figures.budget_curves(a.budget.curves[t.task], t.task, t.metric, fig_dir)
                     for t in a.tasks if t.task in a.budget.curves]
    fas = {t.task: t.metric_fanova.fanova for t in a.tasks if t.metric_fanova is not None}
    if fas:
        out["fig5"].append(figures.importance(fas, fig_dir))
    return out


def per_task(a: Analysis, view: Callable[[Analysis, str], pd.DataFrame]) -> list[Block]:
    """``view(a, task)`` for each task under a heading that names the task's metric (unit)."""
    out: list[Block] = []
    for t in a.tasks:
        out += [Heading(t.label, metric_label(t.metric)), Table(view(a, t.task))]
    return out


def _figs(paths: list[Path]) -> list[Block]:
    return [Figure(p) for p in paths]


# -- the answer: the findings and the task × variant matrix -----------------------------------
WELCH_LEGEND = (("worse", "worse"), ("better", "better"), ("ns", "n.s., enough trials"),
                ("weak", "n.s., underpowered"), ("na", "not testable"))


def welch_matrix(a: Analysis) -> Matrix:
    """The task × variant matrix of the Welch rule: vanilla shows its best-10 % mean, every
    other variant Δ with n, toned by the verdict (n.s. split into powered and underpowered;
    every cell of a task that did not learn, or whose learning is unknown, is not
    testable)."""
    variants = figures.variant_order(a.trials["variant"])
    rows = []
    for t in a.tasks:
        c = a.comparison[a.comparison["task"] == t.task].set_index("variant")
        cells = []
        for v in variants:
            if v == REFERENCE:
                cells.append(Cell(f"{t.learn.vanilla_top_mean:.3g} n={t.learn.n}"
                                  if np.isfinite(t.learn.vanilla_top_mean) else "–", "ref",
                                  f"vanilla best-{PCT} % mean"))
            elif v not in c.index:
                cells.append(Cell("–", "na", "not run"))
            else:
                r = c.loc[v]
                said = verdict_text(r)
                tone = TONES.get(said, "na") if t.learn.learned is True else "na"
                text = (f"{r['diff']:+.3g} n={r['n_top']}" if np.isfinite(r["diff"]) else
                        f"– n={r['n_top']}")
                tip = f"{said}, Welch p={r['welch_p']:.2g}"
                if t.learn.learned is not True:
                    tip += f"; not testable: {t.learn.reason}"
                cells.append(Cell(text, tone, tip))
        rows.append(MatrixRow(t.label, metric_label(t.metric), tuple(cells)))
    note = (f"vanilla (V): its best-{PCT} % mean test metric; others: Δ = variant − vanilla of "
            f"that mean (lower is better, Δ > 0 is worse), n = trials in the variant's best "
            f"{PCT} %.")
    return Matrix(tuple(variants), tuple(rows), WELCH_LEGEND, note)


PAIRED_LEGEND = (("worse", "worse"), ("better", "better"), ("good", "equivalent"),
                 ("weak", "undecided"), ("na", "not testable"))
PAIRED_TONES = {"worse": "worse", "better": "better", "equivalent": "good",
                "undecided": "weak"}
FULL_COLOUR = 4.0   # |Δ̄| of this many margins gets the full colour


def paired_matrix(a: Analysis, protocol: str = PLANNED) -> Matrix:
    """The task × variant matrix of the paired comparisons: mean Δ with its bootstrap CI,
    toned by the verdict, the colour's strength |Δ̄| / (4 × margin) (capped at 1), so that
    an effect reads against the margin of its task, not against the other tasks' scales."""
    variants = figures.variant_order(a.trials["variant"])
    pr = a.paired[a.paired["protocol"] == protocol].set_index(["task", "variant"])
    rows = []
    for t in a.tasks:
        margin = a.registration.prereg.margins.get(t.task)
        cells = []
        for v in variants:
            if v == a.registration.prereg.reference:
                cells.append(Cell("reference" + (f"\nmargin ±{margin:g}" if margin else ""),
                                  "ref", "Δ = variant − vanilla per configuration"))
            elif (t.task, v) not in pr.index:
                cells.append(Cell("–", "na", "not run, or no margin for the task"))
            else:
                r = pr.loc[(t.task, v)]
                tone = PAIRED_TONES.get(r["verdict"], "na")
                if t.learn.learned is not True:
                    tone = "na"
                text = (f"{r['mean_delta']:+.3g}\n[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]"
                        if np.isfinite(r["ci_low"]) else f"{r['mean_delta']:+.3g}")
                strength = min(1.0, abs(r["mean_delta"]) / (FULL_COLOUR * r["margin"]))
                tip = (f"{r['verdict']}; n={r['n']}, paired t p_Holm={r['p_t_holm']:.2g}, "
                       f"TOST p_Holm={r['p_tost_holm']:.2g}, family {r['family']}")
                cells.append(Cell(text, tone, tip, strength))
        rows.append(MatrixRow(t.label, metric_label(t.metric), tuple(cells)))
    note = ("mean Δ = variant − vanilla of the per-configuration test outcome (seed means; "
            "lower is better, Δ > 0 is worse) with its bootstrap 95 % CI; verdicts by the "
            "paired t-test and TOST against the task's margin, Holm within each task; the "
            "colour deepens with |Δ| up to 4 margins. The paper's rule (Welch on the best "
            f"{PCT} %) is in the findings table and the significance section.")
    return Matrix(tuple(variants), tuple(rows), PAIRED_LEGEND, note)


def answer(a: Analysis) -> list[Section]:
    return [
        Section("findings", "Findings of the paper against ours", [
            Text("The paper's findings as docs/paper.md §Findings states them; the verdicts "
                 "by the rules of the overview. " + plan_line(a), Tone.NOTE),
            Table(findings_view(a), "findings")], ("findings.csv", "findings_decisive.csv")),
        Section("matrix", "Variants against vanilla (paired, per configuration)",
                [paired_matrix(a)], ("paired.csv",)),
    ]


# -- the detail sections ----------------------------------------------------------------------
def _ranking_blocks(a: Analysis) -> list[Block]:
    out: list[Block] = [Text(RANKING_INTRO)]
    for t in a.tasks:
        ranked = ranking(a.comparison, t.task)
        out += [Heading(t.label, metric_label(t.metric)),
                Text(f"PTB order {PTB_ORDER}: {ptb_check(ranked, t)}"),
                Table(ranking_view(ranked, t))]
    return out


def _evidence_blocks(a: Analysis) -> list[Block]:
    """Per finding: its verdict and reason, every check behind it (one line each), the verdict
    without the diverged or clipped trials and the verdict with Holm's correction."""
    out: list[Block] = []
    for _, r in a.findings.iterrows():
        out += [Heading(f"{r['#']}. {r['finding']}"), Verdict(r["verdict"], r["reason"]),
                Bullets(tuple(str(r["evidence"]).split(EVIDENCE_SEP))),
                Verdict(r["verdict_strict"], r["reason_strict"], STRICT_VERDICT, Tone.NOTE),
                Verdict(r["verdict_holm"], r["reason_holm"], "verdict with Holm's correction "
                        "across the variants of a task", Tone.NOTE)]
        if len(a.decisive):
            d = a.decisive.set_index("#").loc[r["#"]]
            out += [Verdict(d["verdict"], d["reason"], f"{DECISIVE_VERDICT}, {d['status']}"),
                    Bullets(tuple(str(d["evidence"]).split(EVIDENCE_SEP)))]
    return out


PAIRED_INTRO = (
    "Every configuration was trained in every variant with the same seed, data order and "
    "noise, so each configuration gives a difference Δ = variant − vanilla of its test "
    "outcome (the rules of the overview; the mean over the seeds both arms ran). Over all "
    "planned configurations both arms have (pairing 'all': chosen by the plan, not by "
    "results): the paired t-test of the mean Δ (the verdict) with Wilcoxon's signed-rank test "
    "beside it, the bootstrap 95 % CI of the mean, TOST equivalence against the task's "
    "margin, and the one-sided tests of the one-sided claims ('none better': better, "
    "one-sided; 'no gain': not better by the margin or more). Verdicts: equivalent when TOST "
    "rejects (the 90 % CI inside the margin), else worse / better when the t-test rejects, "
    "else undecided with the configurations per variant the observed variance says it would "
    "take; every p is Holm-adjusted within its task's family.")
SEEDS_INTRO = (
    "The pooled within-configuration SD of the test outcome over the seed replicates of each "
    "(task, variant) — what rerunning one setting with another seed moves it by. Beside every "
    "paired effect (seed SD of both arms pooled); an effect smaller than it is marked. Empty "
    "when the study has no seed replicates.")
BUDGET_INTRO = (
    "For each variant the expected best test metric of the configuration a random search of "
    "k configurations would pick by validation (exact over the observed configurations, "
    "Dodge et al. 2019), with a 95 % bootstrap band; the first k at which a variant's band "
    "and vanilla's are disjoint (the searches' own runs, the planned seed).")
HEADLINE_CAP_INTRO = (
    "The same replay for the verdicts on the test metric: the test set is scored once, at "
    "the best epoch, so a run whose best epoch came after the lower cap is given its test "
    "outcome plus the change of its validation outcome (an estimate); the others keep "
    "theirs exactly. Welch on the best fraction and the paired verdict at both caps.")
RANKS_INTRO = (
    "Spearman's ρ of each hyperparameter with vanilla's test outcome and with its CPU time, "
    "95 % CI from Fisher's z. Findings 7 and 9 read the time half from these in the decisive "
    "column (rises: the CI above 0; not reproduced: the CI below 0.3), finding 8 from the "
    "forest on log CPU time.")


def _paired_blocks(a: Analysis) -> list[Block]:
    out: list[Block] = []
    for protocol in a.protocols:
        if len(a.protocols) > 1:
            out.append(Heading(f"Protocol: {protocol}"))
        for t in a.tasks:
            view = paired_view(a, t.task, protocol)
            if len(view):
                fam = a.paired[(a.paired["task"] == t.task)
                               & (a.paired["protocol"] == protocol)]["family"].iloc[0]
                out += [Heading(f"{t.label} ({protocol})", f"{metric_label(t.metric)}; "
                                f"Holm family '{fam}'"), Table(view)]
    missing = [t.label for t in a.tasks if t.task not in a.registration.prereg.margins]
    if missing:
        out.append(Text(f"No equivalence margin for {', '.join(missing)}: not compared "
                        "(state one as [analysis.margin] in the study file).", Tone.WARN))
    return out


def _budget_blocks(a: Analysis, figs: FigureSet) -> list[Block]:
    out: list[Block] = []
    for t, path in zip([t for t in a.tasks if t.task in a.budget.curves], figs["budget"]):
        out += [Heading(t.label, metric_label(t.metric)), Figure(path),
                Table(budget_view(a, t.task))]
    return out


def details(a: Analysis, figs: FigureSet) -> list[Section]:
    gate = Text(gate_note(a), Tone.WARN)
    return [
        Section("overview", "Overview: data, trials and the rules that touched them",
                [Table(overview(a).drop(columns="key")), Bullets(tuple(RULES))],
                ("overview.csv", "trials.csv")),
        Section("variants", "Variants", per_task(a, variants_view), ("variants.csv",)),
        Section("ranking", "Ranking of the variants, beside the paper and the PTB "
                "reproduction", _ranking_blocks(a), ("significance.csv",)),
        Section("significance", f"Variant vs vanilla (Welch on the best {PCT} %)", [
            welch_matrix(a),
            Text(f"Δ = variant − vanilla of the best-{PCT} % mean test metric (lower is "
                 f"better, Δ > 0 is worse); an n.s. with fewer than {POWER_N} trials per arm "
                 "(and no equivalence) is underpowered. The last column is the verdict with "
                 "the diverged, imputed and clipped trials left out (sensitivity)."),
            *per_task(a, significance_view),
            Heading("Robust companions"),
            Text("Holm across the variants of a task, Mann–Whitney U, bootstrap 95 % CI of Δ, "
                 "Wilcoxon signed-rank on matched configurations, the verdict at other top "
                 "fractions."),
            *per_task(a, robust_view)], ("significance.csv", "significance_left_out.csv")),
        Section("plan", "The analysis plan: pre-registered or the defaults",
                [Text(plan_line(a)), Table(plan_view(a)),
                 Text("Holm's families: each task's comparisons against the reference, one "
                      "family per test (named in paired.csv, column family).")]),
        Section("paired", "Paired comparisons, equivalence and one-sided tests", [
            Text(PAIRED_INTRO), *_paired_blocks(a)], ("paired.csv",)),
        Section("seeds", "Seed noise", [Text(SEEDS_INTRO), Table(seeds_view(a))],
                ("seeds.csv",)),
        Section("budget", "Budget curves: the expected result of a search of k "
                "configurations", [Text(BUDGET_INTRO), *_budget_blocks(a, figs)],
                ("budget.csv", "budget_separation.csv")),
        Section("cap", "Does the epoch cap decide a verdict?",
                [Text(cap_intro(a)), *per_task(a, cap_view),
                 Heading("On the headline (test) outcomes"), Text(HEADLINE_CAP_INTRO),
                 *per_task(a, headline_cap_view)],
                ("cap_sensitivity.csv", "cap_headline.csv")),
        Section("fig3", "Figure 3: test metric per variant", _figs(figs["fig3"])),
        Section("importance", "Hyperparameter importance (fANOVA, PED-ANOVA)", [
            Text(f"fANOVA on a random forest of {a.n_trees} trees per (task, variant), fitted "
                 "on distinct configurations; fraction of variance (mean ± std across trees), "
                 "log-scaled hyperparameters on their log scale; OOB R² is the forest's fit. "
                 "Figure 5 and the first table are vanilla's, as in the paper."), gate,
            *_figs(figs["fig5"]), *per_task(a, vanilla_effects_view),
            Heading("Every variant's own forest (main effects)"),
            *per_task(a, variant_effects_view),
            Heading("One forest over all variants (the variant as an input)"),
            Table(pooled_view(a)),
            Heading(f"PED-ANOVA: importance for reaching the best {PCT} % (Optuna)"),
            *per_task(a, ped_view),
            Heading("Rank correlations beside the forests (vanilla)"), Text(RANKS_INTRO),
            *per_task(a, ranks_view)],
            ("importance.csv", "importance_pooled.csv", "ped_anova.csv", "ranks.csv")),
        Section("fig4", "Figure 4: marginal effects (vanilla)", [gate, *_figs(figs["fig4"])]),
        Section("fig6", "Figure 6: interactions (vanilla)",
                [Text(gate_note(a, times=False), Tone.WARN), *_figs(figs["fig6"])]),
        Section("curves", "Learning curves", _figs(figs["curves"])),
        Section("evidence", "Findings: the numbers behind each verdict", _evidence_blocks(a),
                ("findings.csv",)),
        Section("protocol", "Protocol and versions",
                [Table(protocol_view(a)), Table(versions_view(a))]),
        *([Section("notes", "Notes", [Bullets(tuple(a.notes))])] if a.notes else []),
    ]


def csvs(a: Analysis) -> dict[str, pd.DataFrame]:
    """Every machine table of the report by file name (trials.csv and replicates.csv are
    the trials themselves, without their per-epoch histories)."""
    out = {"trials.csv": a.results.trials.drop(columns=["history", "versions"])}
    if not a.replicates.empty:
        out["replicates.csv"] = a.replicates.drop(columns=["history", "versions"])
    out |= {"variants.csv": a.variants, "significance.csv": a.comparison,
            "significance_left_out.csv": a.comparison_strict, "cap_sensitivity.csv": a.cap,
            "importance.csv": a.importance, "importance_pooled.csv": a.pooled,
            "ped_anova.csv": a.ped, "findings.csv": a.findings, "overview.csv": overview(a),
            "findings_decisive.csv": a.decisive, "paired.csv": a.paired, "seeds.csv": a.seeds,
            "budget.csv": a.budget.table(), "budget_separation.csv": a.budget.separations(),
            "cap_headline.csv": a.headline_cap, "ranks.csv": a.ranks}
    return out


FAMILY_COLUMN = "cell family"


def show_families(sections: list[Section], variants: pd.Series) -> None:
    """Put each variant's cell family beside its name in every table of ``sections`` that
    names variants, where the variants are of more than one family (a study of LSTM variants
    alone reads as before)."""
    families = {v: cell_family(v) for v in variants.unique()}
    if len(set(families.values())) < 2:
        return
    for s in sections:
        for b in s.blocks:
            if isinstance(b, Table) and "variant" in b.frame and FAMILY_COLUMN not in b.frame:
                b.frame.insert(b.frame.columns.get_loc("variant") + 1, FAMILY_COLUMN,
                               b.frame["variant"].map(families).fillna("–"))


def report_model(a: Analysis, figs: FigureSet) -> Report:
    """The whole report of ``a`` with the figures ``figs`` (:func:`make_figures`)."""
    last = a.results.last_finished
    when = f"last trial finished {last:%Y-%m-%d %H:%M}" if last else "no trial finished yet"
    report = Report("lstm-odyssey report",
                    f"{progress_line(a)}; storage {a.results.storage}, {when}",
                    incomplete_warning(a), answer(a), details(a, figs), csvs(a))
    show_families(report.all_sections, a.trials["variant"])
    return report

