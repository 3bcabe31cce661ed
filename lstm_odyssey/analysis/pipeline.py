"""The analysis pipeline: one storage in, every step's typed result out (:class:`Analysis`).

:func:`analyze` scores the trials (:mod:`.outcomes`), runs the paper's Welch rule and its
companions (:mod:`.stats`), the cap replay (:mod:`.cap`), the fANOVA forests and PED-ANOVA
(:mod:`.importance`) and checks the paper's claims (:mod:`.claims`). :mod:`.sections` turns an
:class:`Analysis` into the report model; :mod:`.render` writes it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace

import pandas as pd

from . import decisive, figures, importance
from .cap import cap_sensitivity
from .claims import findings_table
from .decisive import PLANNED, Budget, Registration
from .findings import TaskAnalysis, holm_corrected
from .outcomes import score, strict
from .seeds import pooled_seed_sd
from .stats import REFERENCE, compare_variants, learnability, variant_summary
from .table import Results, load_results

FRACTION = 0.1
LOG_TIME = "log training time"   # the importance target of the forest on log CPU time
PCT = round(FRACTION * 100)


@dataclass
class Analysis:
    """Every table of the report, computed from one storage (machine column names)."""

    results: Results
    trials: pd.DataFrame          # results.trials scored by the rules of .outcomes
    variants: pd.DataFrame
    comparison: pd.DataFrame
    comparison_strict: pd.DataFrame
    cap: pd.DataFrame             # the verdicts replayed under a lower epoch cap (.cap)
    importance: pd.DataFrame      # per task, variant, target: fANOVA main and pair effects
    pooled: pd.DataFrame          # per task: the forest over all variants, main effects
    ped: pd.DataFrame             # per task and variant: PED-ANOVA of the best 10 %
    tasks: list[TaskAnalysis]
    findings: pd.DataFrame
    replicates: pd.DataFrame      # the replicate sets' trials, scored (empty without sets)
    # the tests that fit the claims (.decisive)
    registration: Registration = field(default_factory=Registration)
    paired: pd.DataFrame = field(default_factory=pd.DataFrame)    # every protocol's
    seeds: pd.DataFrame = field(default_factory=pd.DataFrame)     # pooled seed SD per arm
    budget: Budget = field(default_factory=lambda: Budget({}, REFERENCE))
    ranks: pd.DataFrame = field(default_factory=pd.DataFrame)     # Spearman per parameter
    headline_cap: pd.DataFrame = field(default_factory=pd.DataFrame)
    decisive: pd.DataFrame = field(default_factory=pd.DataFrame)  # per finding
    log_time: dict[str, importance.Forest | None] = field(default_factory=dict)
    n_trees: int = 100
    notes: list[str] = field(default_factory=list)

    @property
    def protocols(self) -> list[str]:
        """The protocols with paired verdicts: as planned, then each other replicate set."""
        return list(dict.fromkeys(self.paired["protocol"])) if len(self.paired) else []


def _effect_rows(task: str, variant: str, target: str, forest: importance.Forest) -> list[dict]:
    fa = forest.fanova
    rows = [{"effect": r.param, "mean": r.mean, "std": r.std}
            for r in fa.main_effects().itertuples()]
    rows += [{"effect": f"{r.param_a} × {r.param_b}", "mean": r.mean, "std": r.std}
             for r in fa.pair_effects().itertuples()]
    rest, rest_std = fa.unexplained()
    rows.append({"effect": "higher order (rest)", "mean": rest, "std": rest_std})
    return [{"task": task, "variant": variant, "target": target, **r, "oob_r2": forest.oob_r2,
             "n_configs": forest.n_configs} for r in rows]


def analyze(storage: str, study: str | None = None, n_trees: int = 100, seed: int = 0,
            fraction: float = FRACTION, searches: Collection[str] | None = None,
            registration: Registration | None = None) -> Analysis:
    """Load ``storage`` (optionally only study file ``study``, only the Optuna studies
    ``searches``) and compute every table:
    variant summary, significance tests (and their sensitivity to the outcome rules), fANOVA per
    (task, variant) on distinct configurations (test outcome; training time for vanilla), the
    pooled forest with the variant as an input, PED-ANOVA, and the findings of docs/paper.md
    §Findings; then the tests that fit them (:mod:`.decisive`) under ``registration`` (the
    documented defaults when None)."""
    reg = registration or Registration()
    results = load_results(storage, study, searches)
    # the paper's analysis reads the searches; replicate sets' trials are read apart
    everything = score(results.trials)
    replicates = everything[everything["replicate_set"] != ""]
    results.trials = results.trials[results.trials["replicate_set"] == ""]
    trials = score(results.trials)
    space = results.space
    notes: list[str] = []
    imp_rows: list[dict] = []
    pooled_rows: list[dict] = []
    ped_rows: list[dict] = []
    tasks, tasks_strict = [], []
    log_time: dict[str, importance.Forest | None] = {}
    for task in results.tasks:
        tg = trials[trials["task"] == task]
        order = figures.variant_order(tg["variant"])
        vanilla = tg[tg["variant"] == REFERENCE]
        for variant in order:
            g = tg[tg["variant"] == variant]
            forest = importance.metric_forest(g, space, n_trees, seed)
            if forest is not None:
                imp_rows += _effect_rows(task, variant, "test metric", forest)
            ped_rows += [{"task": task, "variant": variant, "param": p, "importance": v,
                          "n_configs": forest.n_configs if forest else 0}
                         for p, v in importance.ped_anova(g, space, fraction, seed).items()]
        fa_m = importance.metric_forest(vanilla, space, n_trees, seed)
        fa_t = importance.time_forest(vanilla, space, n_trees, seed)
        if fa_t is not None:
            imp_rows += _effect_rows(task, REFERENCE, "training time", fa_t)
        log_time[task] = importance.time_forest(vanilla, space, n_trees, seed, log=True)
        if log_time[task] is not None:
            imp_rows += _effect_rows(task, REFERENCE, LOG_TIME, log_time[task])
        if fa_m is None:
            notes.append(f"{task}: too few distinct vanilla configurations for fANOVA")
        pooled = importance.pooled_forest(tg, space, order, n_trees, seed)
        if pooled is not None:
            pooled_rows += [{"task": task, "effect": r.param, "mean": r.mean, "std": r.std,
                             "oob_r2": pooled.oob_r2, "n_configs": pooled.n_configs}
                            for r in pooled.fanova.main_effects().itertuples()]
        metric, source = str(tg["metric"].iloc[0]), str(tg["source"].iloc[0])
        stored = results.studies[results.studies["task"] == task].iloc[0]
        role = {"kind": stored.get("kind"), "stands_for": stored.get("stands_for")}
        tasks.append(TaskAnalysis(task, metric, source, learnability(trials, task, fraction),
                                  fa_m, fa_t, **role))
        tasks_strict.append(TaskAnalysis(
            task, metric, source, learnability(trials, task, fraction, sample=strict),
            importance.metric_forest(vanilla, space, n_trees, seed, sample=strict), fa_t,
            **role))
    comparison = compare_variants(trials, fraction=fraction, seed=seed)
    comparison_strict = compare_variants(trials, fraction=fraction, seed=seed, sample=strict)
    found = findings_table(trials, comparison, tasks)
    left_out = findings_table(trials, comparison_strict, tasks_strict)
    found["verdict_strict"] = left_out["verdict"]
    found["reason_strict"] = left_out["reason"]
    cap = cap_sensitivity(trials, fraction)
    notes += [f"{r.task}: {r.variant}'s verdict on the validation metric is {r.verdict} at the "
              f"epoch cap of {r.max_epochs} (p = {r.p:.2g}) but {r.verdict_lower} at "
              f"{r.lower_cap} epochs (p = {r.p_lower:.2g}): it depends on where the cap sits"
              for r in cap[cap["changed"]].itertuples()]
    corrected = findings_table(trials, holm_corrected(comparison), tasks)
    found["verdict_holm"] = corrected["verdict"]
    found["reason_holm"] = corrected["reason"]
    planned, others = decisive.split_protocols(everything, results.studies)
    seeds = pooled_seed_sd(planned)
    paired = pd.concat([decisive.paired_table(planned, reg, PLANNED, seeds, seed),
                        *(decisive.paired_table(g, reg, name, seed=seed)
                          for name, g in others.items())], ignore_index=True)
    ranks = decisive.rank_table(trials, space, reg.prereg.reference, reg.prereg.alpha)
    log_tasks = [replace(t, time_fanova=log_time.get(t.task)) for t in tasks]
    return Analysis(
        registration=reg, paired=paired, seeds=decisive.seed_table(seeds),
        budget=decisive.budget(planned, reg.prereg.reference, seed), ranks=ranks,
        headline_cap=decisive.headline_cap(trials, reg, seed),
        decisive=decisive.decisive_findings(
            trials, comparison, tasks, paired[paired["protocol"] == PLANNED], ranks,
            log_tasks, reg),
        log_time=log_time,
        results=results, trials=trials, variants=variant_summary(trials, fraction),
        comparison=comparison, comparison_strict=comparison_strict, cap=cap,
        importance=pd.DataFrame(imp_rows, columns=["task", "variant", "target", "effect", "mean",
                                                   "std", "oob_r2", "n_configs"]),
        pooled=pd.DataFrame(pooled_rows, columns=["task", "effect", "mean", "std", "oob_r2",
                                                  "n_configs"]),
        ped=pd.DataFrame(ped_rows, columns=["task", "variant", "param", "importance",
                                            "n_configs"]),
        tasks=tasks, findings=found, replicates=replicates, n_trees=n_trees, notes=notes,
    )
