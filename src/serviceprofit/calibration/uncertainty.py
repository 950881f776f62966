"""Comparisons that carry the posterior: parameter uncertainty next to simulation noise.

``compare --posterior DIR`` runs replicate ``i`` of every scenario with one parameter set
drawn from the calibration's posterior and with replicate ``i``'s seed: common parameters
*and* common random numbers, so a paired difference between two scenarios compares them
on the same firm (the same draw of the constants) and the same luck. Consecutive
replicates share a draw (``seeds_per_draw`` of them, default 2): replicate ``i`` uses
draw ``i // seeds_per_draw``. That nesting is what lets the spread be split in two
(a one-way random-effects decomposition, e.g. Searle, Casella and McCulloch 1992):

- *simulation noise*: the variance between replicates that share a draw (same
  constants, different seeds), pooled over draws;
- *parameter uncertainty*: the variance of the draws' means, less the part of it that is
  noise (noise / seeds_per_draw), floored at zero.

The posterior probability that a scenario beats the baseline on an outcome is the
share of draws whose mean paired difference points the better way: what we believe,
given the firm's figures, about the effect on *this* firm (with the little noise left
in a mean of ``seeds_per_draw`` runs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SEEDS_PER_DRAW", "decompose", "draw_parameters"]

SEEDS_PER_DRAW = 2


def draw_parameters(
    posterior: pd.DataFrame, replicates: int, seed: int, seeds_per_draw: int = SEEDS_PER_DRAW
) -> tuple[list[int], list[dict[str, float]]]:
    """Each replicate's draw number and parameter set (weighted draws, seeded).

    The draws come from ``SeedSequence([seed, 2])``, apart from the replicates' run
    seeds, so the same ``--seed`` gives the same draws and the same runs.
    """
    keys = [c for c in posterior.columns if c != "weight"]
    count = math.ceil(replicates / seeds_per_draw)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    weights = posterior["weight"].to_numpy(dtype=float)
    picks = rng.choice(len(posterior), size=count, p=weights / weights.sum())
    sets = [{k: float(posterior.iloc[p][k]) for k in keys} for p in picks]
    draws = [i // seeds_per_draw for i in range(replicates)]
    return draws, [sets[d] for d in draws]


def _split(values: np.ndarray, draws: np.ndarray) -> tuple[float, float]:
    """(noise variance, parameter variance) of values grouped by draw."""
    groups = [values[draws == d] for d in np.unique(draws)]
    within = [g.var(ddof=1) * (len(g) - 1) for g in groups if len(g) > 1]
    dof = sum(len(g) - 1 for g in groups if len(g) > 1)
    noise = float(sum(within) / dof) if dof else math.nan
    means = np.array([g.mean() for g in groups])
    per_draw = float(np.mean([len(g) for g in groups]))
    if len(means) < 2:
        return noise, math.nan
    between = float(means.var(ddof=1))
    parameter = max(0.0, between - (noise if math.isfinite(noise) else 0.0) / per_draw)
    return noise, parameter


def decompose(
    runs: pd.DataFrame,
    names: list[str],
    baseline: str,
    outcomes: tuple[str, ...],
    better: dict[str, int],
) -> pd.DataFrame:
    """Tidy rows (scenario, outcome, statistic, value) of the split and the probabilities.

    ``runs`` holds one row per run with ``scenario``, ``replicate``, ``draw`` and the
    outcomes. Statistics: ``noise_sd``, ``parameter_sd``, ``parameter_share`` (of the
    variance) for each scenario's level; ``diff_noise_sd``, ``diff_parameter_sd``,
    ``diff_parameter_share``, ``diff_cred_low``/``diff_cred_high`` (the 2.5% and 97.5%
    quantiles of the draws' mean differences: a 95% credible interval of the effect on
    this firm) and ``p_better`` (``p_higher`` for outcomes with no better direction)
    for the others.
    """
    rows: list[tuple[str, str, str, float]] = []
    base = runs[runs.scenario == baseline].set_index("replicate")
    for name in names:
        own = runs[runs.scenario == name].set_index("replicate")
        draws = own["draw"].to_numpy()
        for outcome in outcomes:
            values = own[outcome].to_numpy(dtype=float)
            noise, parameter = _split(values, draws)
            rows += _split_rows(name, outcome, "", noise, parameter)
            if name == baseline:
                continue
            diff = values - base.loc[own.index, outcome].to_numpy(dtype=float)
            noise, parameter = _split(diff, draws)
            rows += _split_rows(name, outcome, "diff_", noise, parameter)
            means = pd.Series(diff).groupby(draws).mean().to_numpy()
            low, high = np.quantile(means, [0.025, 0.975])
            rows += [
                (name, outcome, "diff_cred_low", float(low)),
                (name, outcome, "diff_cred_high", float(high)),
            ]
            direction = better.get(outcome, 0)
            sign = direction if direction else 1
            wins = float(np.mean(sign * means > 0) + 0.5 * np.mean(means == 0))
            rows.append((name, outcome, "p_better" if direction else "p_higher", wins))
    return pd.DataFrame(rows, columns=["scenario", "outcome", "statistic", "value"])


def _split_rows(
    name: str, outcome: str, prefix: str, noise: float, parameter: float
) -> list[tuple[str, str, str, Any]]:
    total = noise + parameter
    share = parameter / total if total > 0 else math.nan
    return [
        (name, outcome, f"{prefix}noise_sd", math.sqrt(noise) if noise >= 0 else math.nan),
        (name, outcome, f"{prefix}parameter_sd", math.sqrt(parameter)),
        (name, outcome, f"{prefix}parameter_share", share),
    ]


# ---------------------------------------------------------------------------
# Presentation: the terminal block and the report section


def _rows(comparison: Any) -> list[dict[str, Any]]:
    """One record per (scenario, outcome) against the baseline, in the units people read."""
    from serviceprofit.comparison.figures import currency, outcome_scale, outcome_unit
    from serviceprofit.model.outcomes import OUTCOMES

    wide = comparison.wide().set_index(["scenario", "outcome"])
    money = currency(comparison)
    out = []
    for name in comparison.names:
        if name == comparison.baseline:
            continue
        for outcome in OUTCOMES:
            row = wide.loc[(name, outcome)].reindex(
                [
                    "diff_mean",
                    "diff_cred_low",
                    "diff_cred_high",
                    "p_better",
                    "p_higher",
                    "diff_noise_sd",
                    "diff_parameter_sd",
                ]
            )
            k = outcome_scale(outcome)
            p_name = (
                "p_better" if "p_better" in row and math.isfinite(row["p_better"]) else "p_higher"
            )
            noise, parameter = row["diff_noise_sd"] * k, row["diff_parameter_sd"] * k
            out.append(
                {
                    "scenario": name,
                    "outcome": outcome,
                    "unit": outcome_unit(outcome, money),
                    "diff_mean": row["diff_mean"] * k,
                    "cred_low": row["diff_cred_low"] * k,
                    "cred_high": row["diff_cred_high"] * k,
                    "p": float(row[p_name]),
                    "p_kind": "better" if p_name == "p_better" else "higher",
                    "noise_sd": noise,
                    "parameter_sd": parameter,
                    # the larger sd; with one seed per draw noise cannot be told apart
                    "dominates": "parameters"
                    if parameter > noise
                    else "noise"
                    if noise >= parameter
                    else "n/a",
                }
            )
    return out


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.3g}" if abs(value) < 1000 else f"{value:+,.0f}"


def posterior_lines(comparison: Any) -> list[str]:
    """The terminal block under the table: credible intervals, P(better), the split."""
    draws = len(set(comparison.draws or []))
    lines = [
        f"With the posterior {comparison.posterior}: {draws} draws x "
        f"{comparison.seeds_per_draw} seeds; difference from {comparison.baseline}, its 95% "
        "credible interval over draws, the probability it is better, and its spread split "
        "into simulation noise and parameter uncertainty (sd):"
    ]
    for r in _rows(comparison):
        lines.append(
            f"  {r['scenario']:<18} {r['outcome']:<28} {_num(r['diff_mean']):>9} "
            f"[{_num(r['cred_low'])}, {_num(r['cred_high'])}] {r['unit']:<10} "
            f"P({r['p_kind']}) {r['p']:.2f}  noise {abs(r['noise_sd']):.3g}  "
            f"parameters {r['parameter_sd']:.3g}  (larger: {r['dominates']})"
        )
    return lines


def posterior_html(comparison: Any) -> str:
    """The report's section on parameter uncertainty (escaped, one table)."""
    import html

    e = html.escape
    draws = len(set(comparison.draws or []))
    body = "".join(
        f"<tr><td>{e(r['scenario'])}</td><td>{e(r['outcome'])} ({e(r['unit'])})</td>"
        f"<td>{_num(r['diff_mean'])}</td><td>{_num(r['cred_low'])} to {_num(r['cred_high'])}</td>"
        f"<td>{r['p']:.2f}{'' if r['p_kind'] == 'better' else ' (higher)'}</td>"
        f"<td>{abs(r['noise_sd']):.3g}</td><td>{r['parameter_sd']:.3g}</td>"
        f"<td>{e(r['dominates'])}</td></tr>"
        for r in _rows(comparison)
    )
    return (
        f"<p>Every replicate ran with one parameter set drawn from the calibration's posterior "
        f"(<code>{e(str(comparison.posterior))}</code>): {draws} draws, each on "
        f"{comparison.seeds_per_draw} seeds, the same draw and seed in every scenario (common "
        "parameters and common random numbers). The credible interval is the 2.5% to 97.5% "
        "range of the draws' mean differences: what the firm's figures leave open about the "
        "effect. P(better) is the share of draws in which the scenario beats the baseline. "
        "The spread of the difference is split into simulation noise (between seeds of one "
        "draw) and parameter uncertainty (between draws, less the noise); where parameters "
        "dominate, more replicates will not narrow the interval, better figures for the firm "
        "will.</p>"
        "<table><thead><tr><th>scenario</th><th>outcome</th><th>difference</th>"
        "<th>95% credible</th><th>P(better)</th><th>noise sd</th><th>parameter sd</th>"
        f"<th>larger</th></tr></thead><tbody>{body}</tbody></table>"
    )
