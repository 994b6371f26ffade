"""Experiments: deterministic A/B assignment and trustworthy analysis (Welch, delta method,
CUPED, sample-ratio mismatch, always-valid confidence sequences, group-sequential tests with
alpha spending, Benjamini-Hochberg, power),
and off-policy evaluation of recommendation policies (IPS, SNIPS, doubly robust)."""
from __future__ import annotations

from storemind.experiments.analysis import (
    TestResult,
    proportion_test,
    ratio_test,
    relative_lift_from_stats,
    welch_from_stats,
    welch_test,
)
from storemind.experiments.assignment import (
    Assignment,
    Experiment,
    assign,
    check_layers,
    hash_unit,
    list_experiments,
    load_experiment,
    log_exposure,
    log_exposures,
    register_experiment,
)
from storemind.experiments.cuped import CupedResult, cuped_test, cuped_theta
from storemind.experiments.group_sequential import (
    GroupSequentialResult,
    alpha_spent,
    crossing_probabilities,
    group_sequential_path,
    group_sequential_test,
    spending_boundaries,
)
from storemind.experiments.multiple import benjamini_hochberg
from storemind.experiments.ope import (
    OPEResult,
    doubly_robust,
    empirical_policy,
    ips,
    item_position_ctr_model,
    snips,
)
from storemind.experiments.pipeline import (
    ExperimentReport,
    Metric,
    MetricComparison,
    analyze,
    analyze_units,
    load_units,
    watch,
)
from storemind.experiments.power import (
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from storemind.experiments.sequential import (
    SequentialResult,
    always_valid_p,
    confidence_sequence,
    cs_multiplier,
    mixture_rho2,
    sequential_path,
)
from storemind.experiments.srm import SRMResult, srm_test

__all__ = [
    "Assignment", "CupedResult", "Experiment", "ExperimentReport", "GroupSequentialResult",
    "Metric", "MetricComparison", "OPEResult", "SRMResult", "SequentialResult", "TestResult",
    "alpha_spent", "always_valid_p", "analyze", "analyze_units", "assign", "benjamini_hochberg",
    "check_layers", "confidence_sequence", "crossing_probabilities", "cs_multiplier",
    "cuped_test", "cuped_theta", "doubly_robust", "empirical_policy", "group_sequential_path",
    "group_sequential_test", "hash_unit",
    "ips", "item_position_ctr_model", "list_experiments", "load_experiment", "load_units",
    "log_exposure", "log_exposures", "mixture_rho2", "power_means", "power_proportions",
    "proportion_test", "ratio_test", "register_experiment", "relative_lift_from_stats",
    "sample_size_means", "sample_size_proportions", "sequential_path", "snips",
    "spending_boundaries", "srm_test",
    "watch", "welch_from_stats", "welch_test",
]
