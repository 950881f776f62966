"""The calibration report: one self-contained HTML file, like the comparison's.

What it shows, in the order a sceptical reader asks: the warnings (what the data do
not pin down, what the model cannot reach, whether the fit got to its tolerance);
each parameter's prior against its posterior; the posterior's pairwise shape
(correlated constants are traded off against each other, and only their combination is
known); the epsilon and acceptance history; the posterior-predictive band of every
target against the observed value; the scale check; and how it was made.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from serviceprofit.calibration.fit import LEVEL, WIDE, weighted_quantile
from serviceprofit.comparison.figures import _png, _pyplot
from serviceprofit.comparison.report import _CSS, _e, _img

if TYPE_CHECKING:
    from serviceprofit.calibration.fit import Calibration

__all__ = ["render_report"]


def _log_axis(prior: Any) -> bool:
    return prior.prior == "log_uniform"


def figure_marginals(cal: Calibration) -> bytes:
    """Prior density against the weighted posterior histogram, one panel per parameter.

    A log-uniform prior is drawn on log10 of the value, where it is flat: on a linear
    axis its density ``1/x`` would look like a belief in small values it does not hold.
    """
    plt = _pyplot()
    keys = list(cal.targets.priors)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
    weights = cal.posterior["weight"].to_numpy()
    for ax, key in zip(axes[0], keys, strict=True):
        prior = cal.targets.priors[key]
        low, high = prior.extremes()
        x = cal.posterior[key].to_numpy(dtype=float)
        median = float(weighted_quantile(x, weights, 0.5))
        grid = np.linspace(low, high, 200)
        density = prior.distribution().pdf(grid)
        name = key.split(".")[-1]
        if _log_axis(prior):
            x, median = np.log10(x), math.log10(median)
            grid = np.linspace(math.log10(low), math.log10(high), 200)
            density = prior.distribution().pdf(10**grid) * 10**grid * math.log(10)
            low, high, name = grid[0], grid[-1], f"log10 {name}"
        ax.hist(
            x,
            bins=np.linspace(low, high, 40),
            weights=weights,
            density=True,
            color="#4c72b0",
            alpha=0.6,
            label="posterior",
        )
        ax.plot(grid, density, color="#555", lw=1.5, label="prior")
        ax.axvline(median, color="#c44e52", lw=1.2, label="posterior median")
        ax.set_title(name, fontsize=10)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def figure_pairs(cal: Calibration) -> bytes | None:
    """Pairwise scatter of the posterior particles (area proportional to weight)."""
    keys = list(cal.targets.priors)
    if len(keys) < 2:
        return None
    plt = _pyplot()
    n = len(keys)
    fig, axes = plt.subplots(n, n, figsize=(2.6 * n, 2.6 * n), squeeze=False)
    weights = cal.posterior["weight"].to_numpy()
    sizes = 4 + 400 * weights / weights.max() / math.sqrt(len(weights))
    for i, yk in enumerate(keys):
        for j, xk in enumerate(keys):
            ax = axes[i][j]
            if i == j:
                ax.hist(cal.posterior[xk], bins=25, weights=weights, color="#4c72b0", alpha=0.6)
                ax.set_yticks([])
            elif i > j:
                ax.scatter(
                    cal.posterior[xk], cal.posterior[yk], s=sizes, alpha=0.4, color="#4c72b0", lw=0
                )
            else:
                ax.axis("off")
                continue
            for k, axis in ((xk, "x"), (yk, "y")):
                if _log_axis(cal.targets.priors[k]) and (axis == "x" or i != j):
                    getattr(ax, f"set_{axis}scale")("log")
            if i == n - 1:
                ax.set_xlabel(xk.split(".")[-1], fontsize=9)
            if j == 0 and i != j:
                ax.set_ylabel(yk.split(".")[-1], fontsize=9)
    fig.tight_layout()
    return _png(fig)


def figure_history(cal: Calibration) -> bytes:
    """Epsilon (with the tolerance) and the acceptance rate, generation by generation."""
    plt = _pyplot()
    h = cal.history
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(h["t"] + 1, h["epsilon"], "o-", color="#4c72b0")
    a.axhline(cal.tolerance, color="#c44e52", ls="--", lw=1, label="tolerance")
    a.set_yscale("log")
    a.set_xlabel("generation")
    a.set_title("epsilon (distance in standard errors)", fontsize=10)
    a.legend(fontsize=8)
    b.plot(h["t"] + 1, 100 * h["acceptance"], "o-", color="#55a868")
    b.set_xlabel("generation")
    b.set_title("acceptance rate, %", fontsize=10)
    b.set_ylim(bottom=0)
    fig.tight_layout()
    return _png(fig)


def figure_predictive(cal: Calibration) -> bytes:
    """Each target: the posterior-predictive 90% and 50% bands against the observed value."""
    plt = _pyplot()
    checks = cal.checks
    summary = checks[~checks["statistic"].str.startswith("series.")]
    series = checks[checks["statistic"].str.startswith("series.")]
    metrics = list(dict.fromkeys(series["metric"]))
    panels = len(summary) + len(metrics)
    fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels + 1, 3.2), squeeze=False)
    for ax, row in zip(axes[0], summary.itertuples(), strict=False):
        x = cal.predictive[row.statistic].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        q05, q25, q75, q95 = np.quantile(x, [0.05, 0.25, 0.75, 0.95]) if len(x) else [np.nan] * 4
        ax.fill_between([0, 1], q05, q95, color="#4c72b0", alpha=0.25, label="90% predictive")
        ax.fill_between([0, 1], q25, q75, color="#4c72b0", alpha=0.45, label="50% predictive")
        ax.errorbar(
            [0.5],
            [row.observed],
            yerr=[1.96 * row.sigma],
            fmt="o",
            color="#c44e52",
            capsize=6,
            label="observed ± 1.96 se",
        )
        ax.set_xticks([])
        ax.set_title(row.label, fontsize=10)
    for ax, metric in zip(axes[0][len(summary) :], metrics, strict=True):
        rows = series[series["metric"] == metric]
        mid = [(a + b) / 2 for a, b in _spans(cal, rows["statistic"])]
        ax.fill_between(
            mid,
            rows["band_low"],
            rows["band_high"],
            color="#4c72b0",
            alpha=0.3,
            label="90% predictive",
        )
        ax.errorbar(
            mid,
            rows["observed"],
            yerr=1.96 * rows["sigma"],
            fmt="o",
            ms=3,
            color="#c44e52",
            label="observed ± 1.96 se",
        )
        ax.set_xlabel("week")
        ax.set_title(metric, fontsize=10)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _spans(cal: Calibration, keys: Any) -> list[tuple[int, int]]:
    by_key = {s.key: s.weeks for s in cal.targets.statistics}
    return [by_key[k] for k in keys]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _g(value: float) -> str:
    return f"{value:.4g}"


def _reproduce(provenance: dict[str, Any] | None) -> str:
    """How to make the same posterior again: the command, the code, the libraries."""
    if not provenance:
        return ""
    command = provenance.get("command")
    how = (
        f"<p>The command, run in <code>{_e(provenance.get('cwd'))}</code> (the same command "
        f"continues a stopped calibration; the same seed gives the same posterior, here or on "
        f"Dask):</p><pre>{_e(command)}</pre>"
        if command
        else "<p>Made through the Python API: <code>provenance.json</code> holds the inputs.</p>"
    )
    git = provenance.get("git")
    code = f"git commit {git['commit'][:12]}" if git else "not from a git checkout"
    if git and git.get("dirty"):
        code += " with uncommitted changes"
    deps = ", ".join(f"{k} {v}" for k, v in (provenance.get("dependencies") or {}).items() if v)
    return (
        f"<details><summary>How to reproduce</summary>{how}<p class='meta'>serviceprofit "
        f"{_e(provenance.get('serviceprofit'))} ({_e(code)}), {_e(deps)}; started "
        f"{_e(provenance.get('started'))} on {_e(provenance.get('host'))}.</p></details>"
    )


def render_report(cal: Calibration, provenance: dict[str, Any] | None = None) -> str:
    """The whole report as one HTML string, figures embedded."""
    spec = cal.targets
    warnings = cal.warnings()
    warn_html = (
        "".join(f"<p class='warn'>⚠ {_e(w)}</p>" for w in warnings)
        if warnings
        else "<p>None: every parameter is narrowed by the data, every target is within reach, "
        "and the fit reached its tolerance.</p>"
    )
    params = _table(
        [
            "parameter",
            "prior",
            "prior 90%",
            "posterior median",
            "posterior 90%",
            "width ratio",
            "pinned down",
        ],
        [
            [
                f"<code>{_e(r.key)}</code>",
                _e(r.prior),
                f"{_g(r.prior_low)} to {_g(r.prior_high)}",
                _g(r.median),
                f"{_g(r.low)} to {_g(r.high)}",
                f"{r.width_ratio:.2f}",
                "yes" if r.pinned else "<b>no</b>",
            ]
            for r in cal.parameters.itertuples()
        ],
    )
    targets = _table(
        [
            "target",
            "observed",
            "se",
            "predictive median",
            "predictive 90%",
            "covers observed",
            "within reach",
        ],
        [
            [
                _e(r.label),
                _g(r.observed),
                _g(r.sigma),
                _g(r.median),
                f"{_g(r.band_low)} to {_g(r.band_high)}",
                "yes" if r.covers else "no",
                "yes" if r.reached else "<b>no</b>",
            ]
            for r in cal.checks.itertuples()
        ],
    )
    hist = _table(
        ["generation", "epsilon", "runs", "accepted", "acceptance"],
        [
            [
                str(int(r.t) + 1),
                _g(r.epsilon),
                str(r.samples),
                str(r.particles),
                f"{r.acceptance:.1%}",
            ]
            for r in cal.history.itertuples()
        ],
    )
    if cal.scale_check is None:
        scale_html = "<p>The calibration ran the firm at full size.</p>"
    else:
        scale_html = (
            f"<p>Runs were made at scale {spec.scale:g} (customers, staff, marketing and cash "
            "multiplied by it; figures that grow with the firm divided by it). The same "
            "seeds at full size and at this scale, at the scenario's own constants:</p>"
            + _table(
                [
                    "statistic",
                    "full size mean (sd)",
                    "scaled mean (sd)",
                    "difference",
                    "se of difference",
                    "invariant",
                ],
                [
                    [
                        _e(r.label),
                        f"{_g(r.full_mean)} ({_g(r.full_sd)})",
                        f"{_g(r.scaled_mean)} ({_g(r.scaled_sd)})",
                        _g(r.difference),
                        _g(r.se),
                        "yes" if r.invariant else "<b>no</b>",
                    ]
                    for r in cal.scale_check.itertuples()
                ],
            )
        )
    figures = [
        (
            figure_marginals(cal),
            "Prior and posterior",
            "Grey line: prior density; bars: the "
            "weighted posterior particles; red line: posterior median (the calibrated value).",
        ),
        (
            figure_pairs(cal),
            "Pairwise posterior",
            "Each dot a particle, area by weight. A "
            "diagonal cloud means the data fix a combination of the two constants, not each.",
        ),
        (
            figure_history(cal),
            "Epsilon and acceptance",
            "Epsilon is the distance (in the "
            "targets' standard errors) a run had to come within to be kept; dashed: the "
            "tolerance. Acceptance falls as epsilon tightens.",
        ),
        (
            figure_predictive(cal),
            "Posterior-predictive check",
            f"{len(cal.predictive)} runs at "
            "parameter sets drawn from the posterior, each on a new seed, against the firm's "
            "figures (red, with their 95% interval).",
        ),
    ]
    fig_html = "".join(
        f"<figure><h3>{_e(h)}</h3>{_img(png, h)}<figcaption>{_e(c)}</figcaption></figure>"
        for png, h, c in figures
        if png is not None
    )
    minutes = cal.seconds.get("fit", 0.0) / 60
    meta = (
        f"{_e(cal.scenario.name)} · targets {_e(spec.source)} · {spec.weeks} weeks · scale "
        f"{spec.scale:g} · {spec.fit.population} particles a generation · seed {spec.fit.seed} · "
        f"fit {minutes:.1f} min · generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"
    )
    resumed = (
        f"<p>This call continued a calibration that already had {cal.resumed_from} "
        "generation(s) in its history.</p>"
        if cal.resumed_from
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Calibration: {_e(cal.scenario.name)}</title><style>{_CSS}
.warn {{ background: #fff4e5; border-left: 4px solid #dd8452; padding: 0.4em 0.8em; }}
</style></head>
<body>
<h1>Calibration of {_e(cal.scenario.name)}</h1>
<p class="meta">{meta}</p>
<h2>Warnings</h2>{warn_html}
<h2>Parameters</h2>{params}
<p>Width ratio: the posterior's {LEVEL:.0%} interval over the prior's, on the scale the prior
is flat on (logarithmic for log-uniform priors). At {WIDE:.0%} or more the data have not
pinned the constant down.</p>
<h2>Targets</h2>{targets}
<h2>History</h2>{hist}{resumed}
<h2>Figures</h2>{fig_html}
<h2>Scale</h2>{scale_html}
<h2>How this was made</h2>
<p>Approximate Bayesian computation by sequential Monte Carlo (pyabc). A parameter set is kept
when its run's figures, each minus the firm's and divided by its standard error, have a
Euclidean norm within epsilon; epsilon falls generation by generation to the median distance
of the last, and stops at the tolerance {cal.tolerance:.3g} (the 95% radius of a chi-square
with one degree of freedom per target: a model matching the firm up to its stated errors lies
within it 95% of the time). The posterior is then the set of constants whose runs land within
the firm's own error of its figures, weighted by how likely the sampler was to propose them.
It says which constants are consistent with these figures <em>under this model</em>; it cannot
say whether the model's mechanisms are right, and constants not fitted stay at their defaults
(their uncertainty is not in the posterior).</p>
<p class="meta">Files next to this report: <code>posterior.parquet</code> (the weighted
sample), <code>calibrated.yaml</code> (the scenario at the posterior medians),
<code>predictive.parquet</code>, <code>history.db</code> (pyabc's full history),
<code>provenance.json</code>.</p>
{_reproduce(provenance)}
</body></html>
"""
