"""Fitting behaviour constants to a firm's figures by ABC-SMC, resumably.

Method: approximate Bayesian computation by sequential Monte Carlo (Toni et al. 2009;
Beaumont et al. 2009) with pyabc (Schälte et al. 2022). Each generation draws ``N``
parameter sets from the previous one (perturbed by a multivariate normal kernel),
runs the model and keeps those whose distance to the firm's figures is within epsilon;
epsilon falls to the median distance of the last generation and never below the
tolerance. The distance is the Euclidean norm of the differences divided by each
target's stated uncertainty, so its square is chi-square when the model matches the
firm up to those errors, and the default tolerance is that chi-square's 95% radius:
once there, the posterior holds the parameter values whose runs fall within the
firm's own error of every figure (ABC is then exact for a model with that error,
Wilkinson 2013).

Where: in this process, or on a Dask cluster (local or remote) through
:class:`~.sampler.SeededSampler`, which makes the posterior independent of where and
in what order particles ran. Resuming: the history is pyabc's SQLite database in the
output directory; a second run of the same command loads it and continues from the last
finished generation. ``calibration.json`` holds a fingerprint of the inputs, so a
directory is never continued with other inputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from serviceprofit.calibration.model import KPIModel, calibration_base, pyabc_name
from serviceprofit.calibration.targets import Targets, TargetsError, load_targets
from serviceprofit.model.scenario import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from serviceprofit.sweeps.evaluators import Evaluator

__all__ = [
    "WIDE",
    "Calibration",
    "calibrate",
    "load_posterior",
    "parameter_summary",
    "weighted_quantile",
]

#: A posterior whose 90% interval is at least this share of the prior's is "not pinned down".
WIDE = 0.7
#: The level of the intervals reported.
LEVEL = 0.9
#: Seeds of the scale check (full-size against scaled runs).
SCALE_CHECK_SEEDS = 8

FILES = {
    "history": "history.db",
    "state": "calibration.json",
    "posterior": "posterior.parquet",
    "predictive": "predictive.parquet",
    "scenario": "calibrated.yaml",
    "report": "report.html",
    "provenance": "provenance.json",
}


class CalibrationError(TargetsError):
    """A calibration directory that cannot be used (other inputs, damaged history)."""


@dataclass
class Calibration:
    """A finished calibration: posterior, history, checks, and where its files are."""

    out: Path
    scenario: Scenario
    scenario_source: Path | None
    targets: Targets
    posterior: pd.DataFrame
    """One row per particle of the last generation: the dotted keys, ``weight``, ``distance``."""
    parameters: pd.DataFrame
    """Per parameter: prior, prior and posterior 90% intervals, median, width ratio, pinned."""
    history: pd.DataFrame
    """Per generation: ``t``, ``epsilon``, ``samples``, ``particles``, ``acceptance``."""
    predictive: pd.DataFrame
    """One row per posterior-predictive run: the statistics."""
    checks: pd.DataFrame
    """Per statistic: observed, sigma, predictive median and 90% band, reached."""
    scale_check: pd.DataFrame | None
    seconds: dict[str, float] = field(default_factory=dict)
    resumed_from: int = 0
    """Generations that were already in the history when this call started."""
    tolerance: float = math.nan
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def epsilon(self) -> float:
        return float(self.history["epsilon"].iloc[-1])

    @property
    def converged(self) -> bool:
        return self.epsilon <= self.tolerance * (1 + 1e-9)

    def warnings(self) -> list[str]:
        """Plain sentences: what the data do not pin down, what the model cannot reach."""
        out = []
        if not self.converged:
            out.append(
                f"The fit stopped at epsilon {self.epsilon:.3g}, above the tolerance "
                f"{self.tolerance:.3g} after {len(self.history)} generations: the posterior is "
                "wider than the figures justify. Raise fit.generations (or max_minutes) in the "
                "targets file and run the same command: it continues from the history."
            )
        for row in self.parameters.itertuples():
            if not row.pinned:
                out.append(
                    f"{row.key} is not pinned down by these figures: its posterior 90% interval "
                    f"is {row.width_ratio:.0%} as wide as the prior's. Read its median as the "
                    "prior's, not as a measurement of the firm."
                )
        for row in self.checks.itertuples():
            if not row.reached:
                out.append(
                    f"The model cannot reach the observed {row.label} ({row.observed:.4g} ± "
                    f"{1.96 * row.sigma:.2g}): its posterior-predictive 90% band is "
                    f"{row.band_low:.4g} to {row.band_high:.4g}. Fit more constants, or check "
                    "the figure."
                )
        if self.scale_check is not None:
            for row in self.scale_check.itertuples():
                if not row.invariant:
                    out.append(
                        f"{row.label} is not scale-invariant at scale {self.targets.scale:g}: "
                        f"{row.scaled_mean:.4g} scaled against {row.full_mean:.4g} at full size. "
                        "Calibrate at a larger scale."
                    )
        return out


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float | np.ndarray) -> Any:
    """Quantile(s) of a weighted sample (the weights' cumulative midpoints, interpolated)."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cum, v)


def _on_prior_scale(prior: Any, x: Any) -> Any:
    """Values on the scale the prior is flat or symmetric on (log for log-uniform)."""
    return np.log(x) if prior.prior == "log_uniform" else np.asarray(x, float)


def parameter_summary(posterior: pd.DataFrame, targets: Targets) -> pd.DataFrame:
    """Per parameter: the prior's and posterior's 90% intervals and how much narrower.

    Widths are compared on the scale the prior is uniform on (log for log-uniform), so
    a rate narrowed from "0.001 to 0.01" to "0.002 to 0.004" counts by its factor.
    """
    rows = []
    weights = posterior["weight"].to_numpy()
    for key, prior in targets.priors.items():
        x = posterior[key].to_numpy(dtype=float)
        low, median, high = weighted_quantile(x, weights, [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2])
        p_low, p_high = prior.interval(LEVEL)
        ratio = float(
            np.ptp(_on_prior_scale(prior, [low, high]))
            / np.ptp(_on_prior_scale(prior, [p_low, p_high]))
        )
        rows.append(
            {
                "key": key,
                "prior": prior.describe(),
                "prior_low": p_low,
                "prior_high": p_high,
                "median": float(median),
                "mean": float(np.average(x, weights=weights)),
                "low": float(low),
                "high": float(high),
                "width_ratio": ratio,
                "pinned": ratio < WIDE,
            }
        )
    return pd.DataFrame(rows)


def _checks(targets: Targets, predictive: pd.DataFrame) -> pd.DataFrame:
    """Per statistic: does the posterior-predictive 90% band meet the observed figure?

    "Reached" means the band overlaps the observed value's 95% interval (value ± 1.96
    sigma): a model that cannot come within the firm's own error of a figure at any
    plausible parameter value is telling us something the posterior cannot fix.
    """
    rows = []
    for stat in targets.statistics:
        x = predictive[stat.key].to_numpy(dtype=float)
        finite = x[np.isfinite(x)]
        if len(finite) == 0:
            low = median = high = math.nan
        else:
            low, median, high = np.quantile(finite, [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2])
        reach = 1.96 * stat.sigma
        reached = bool(
            len(finite) and high >= stat.observed - reach and low <= stat.observed + reach
        )
        rows.append(
            {
                "statistic": stat.key,
                "label": stat.label,
                "metric": stat.metric,
                "observed": stat.observed,
                "sigma": stat.sigma,
                "median": float(median),
                "band_low": float(low),
                "band_high": float(high),
                "covers": bool(len(finite) and low <= stat.observed <= high),
                "reached": reached,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# The directory: fingerprint, resume, files


def _fingerprint(scenario: Scenario, targets: Targets, backend: str) -> str:
    """What must not change between a run and its resumption."""
    data = {
        "scenario": scenario.to_dict(),
        "targets": {k: v for k, v in targets.data.items() if k != "fit"},  # fit: below
        "statistics": [(s.key, s.observed, s.sigma) for s in targets.statistics],
        "priors": {k: p.model_dump() for k, p in targets.priors.items()},
        "weeks": targets.weeks,
        "scale": targets.scale,
        "fit": targets.fit.model_dump(exclude={"max_minutes", "generations", "max_simulations"}),
        "backend": backend,
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        raise CalibrationError(
            str(path), "", "damaged; delete the directory to start again"
        ) from None
    return state if isinstance(state, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _abc(model: KPIModel, targets: Targets, sampler: Any) -> Any:
    import pyabc

    class FlooredQuantile(pyabc.QuantileEpsilon):
        """The median distance of the last generation, never below the tolerance: the
        last generation runs at the tolerance itself rather than past it."""

        def _update(self, t: int, weighted_distances: pd.DataFrame) -> None:
            super()._update(t, weighted_distances)
            self._look_up[t] = max(self._look_up[t], targets.tolerance())

    prior = pyabc.Distribution(**{pyabc_name(k): p.pyabc_rv() for k, p in targets.priors.items()})
    weights = {s.key: 1.0 / s.sigma for s in targets.statistics}
    return pyabc.ABCSMC(
        model,
        prior,
        pyabc.PNormDistance(p=2, fixed_weights=weights),
        population_size=targets.fit.population,
        sampler=sampler,
        eps=FlooredQuantile(alpha=0.5),
    )


def _history_frame(history: Any) -> pd.DataFrame:
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "t": pops["t"].astype(int),
            "epsilon": pops["epsilon"].astype(float),
            "samples": pops["samples"].astype(int),
            "particles": pops["particles"].astype(int),
        }
    )
    frame["acceptance"] = frame["particles"] / frame["samples"]
    return frame


def _posterior_frame(history: Any, keys: list[str]) -> pd.DataFrame:
    df, w = history.get_distribution(m=0, t=history.max_t)
    out = pd.DataFrame({key: df[pyabc_name(key)].to_numpy(dtype=float) for key in keys})
    out["weight"] = np.asarray(w, dtype=float) / float(np.sum(w))
    distances = history.get_weighted_distances(t=history.max_t)
    out["distance"] = distances["distance"].to_numpy(dtype=float)
    out["generation"] = int(history.max_t)
    return out


def _run_batches(
    engine: Evaluator, model: KPIModel, batches: list[list[tuple[float, ...]]]
) -> list[dict[str, float]]:
    """Evaluate batches of parameter sets on ``engine``; results in the batches' order."""
    results: dict[int, list[dict[str, float]]] = {}
    indexed = list(enumerate(batches))
    for (i, _), result, error in engine.map_unordered(_IndexedBatch(model), indexed):
        if error is not None:
            raise error
        results[i] = result
    return [row for i in range(len(batches)) for row in results[i]]


@dataclass(frozen=True)
class _IndexedBatch:
    """Picklable: (index, batch) -> the model's statistics of the batch."""

    model: KPIModel

    def __call__(self, item: tuple[int, list[tuple[float, ...]]]) -> list[dict[str, float]]:
        return self.model.evaluate(item[1])


def _predictive(
    posterior: pd.DataFrame, model: KPIModel, targets: Targets, engine: Evaluator
) -> pd.DataFrame:
    """Posterior-predictive runs: weighted draws from the posterior, each run on a new seed."""
    rng = np.random.default_rng(np.random.SeedSequence([targets.fit.seed, 1]))
    keys = list(targets.priors)
    picks = rng.choice(len(posterior), size=targets.fit.predictive_draws, p=posterior["weight"])
    draws = [tuple(float(v) for v in posterior.iloc[i][keys]) for i in picks]
    predictive_model = replace(model, seed=int(rng.integers(2**62)))
    size = max(1, len(draws) // (4 * max(engine.workers, 1)))
    batches = [draws[i : i + size] for i in range(0, len(draws), size)]
    rows = _run_batches(engine, predictive_model, batches)
    frame = pd.DataFrame(rows)
    for j, key in enumerate(keys):
        frame.insert(j, key, [d[j] for d in draws])
    return frame


def _scale_check(scenario: Scenario, targets: Targets) -> pd.DataFrame | None:
    """Whether the targets' statistics at ``scale`` match those at full size (same seeds).

    Eight seeds at each size at the scenario's own constants. A statistic is flagged
    when the two means differ by more than three standard errors of the difference *and*
    by more than a quarter of the target's stated uncertainty: a difference that large
    would move the fit.
    """
    if targets.scale == 1.0:
        return None
    from serviceprofit.model.seeds import replicate_seeds

    seeds = replicate_seeds(targets.fit.seed + 1, SCALE_CHECK_SEEDS)
    frames = {}
    for label, scale in (("full", 1.0), ("scaled", targets.scale)):
        base = calibration_base(scenario, targets.weeks, scale)
        model = KPIModel(base, (), targets.statistics, scale, targets.fit.seed)
        frames[label] = pd.DataFrame(model.replicates(seeds))
    out = []
    for stat in targets.statistics:
        full = frames["full"][stat.key].to_numpy(dtype=float)
        scaled = frames["scaled"][stat.key].to_numpy(dtype=float)
        diff = scaled.mean() - full.mean()
        se = math.sqrt(full.var(ddof=1) / len(full) + scaled.var(ddof=1) / len(scaled))
        invariant = not (abs(diff) > 3 * se and abs(diff) > 0.25 * stat.sigma)
        out.append(
            {
                "statistic": stat.key,
                "label": stat.label,
                "full_mean": float(full.mean()),
                "full_sd": float(full.std(ddof=1)),
                "scaled_mean": float(scaled.mean()),
                "scaled_sd": float(scaled.std(ddof=1)),
                "difference": float(diff),
                "se": float(se),
                "sigma": stat.sigma,
                "invariant": invariant,
            }
        )
    return pd.DataFrame(out)


def load_posterior(path: str | Path) -> pd.DataFrame:
    """A posterior sample: a calibration directory or its ``posterior.parquet``.

    Returns the parameter columns (dotted keys) and ``weight`` (summing to 1).
    """
    path = Path(path)
    file = path / FILES["posterior"] if path.is_dir() else path
    source = str(path)
    if not file.exists():
        raise TargetsError(
            source, "", f"no posterior here (expected {file.name} from `serviceprofit calibrate`)"
        )
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise TargetsError(
            str(file), "", f"not a readable Parquet file ({type(exc).__name__})"
        ) from None
    if "weight" not in frame.columns or len(frame) == 0:
        raise TargetsError(str(file), "weight", "missing: not a posterior sample")
    weights = frame["weight"].to_numpy(dtype=float)
    if not np.all(np.isfinite(weights)) or (weights < 0).any() or weights.sum() <= 0:
        raise TargetsError(
            str(file), "weight", "weights must be finite, non-negative, not all zero"
        )
    keys = [c for c in frame.columns if "." in c]
    if not keys:
        raise TargetsError(str(file), "", "holds no parameter columns (dotted scenario keys)")
    out = frame[keys].astype(float)
    if not np.all(np.isfinite(out.to_numpy())):
        raise TargetsError(str(file), keys[0], "parameter values must be finite")
    out["weight"] = weights / weights.sum()
    return out


# ---------------------------------------------------------------------------
# The front door


def calibrate(
    scenario: str | Path,
    targets: str | Path,
    out: str | Path,
    *,
    engine: Evaluator | None = None,
    backend: str = "numba",
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit the targets' parameters to their figures; write the results into ``out``.

    Running it again with the same inputs and ``out`` continues from the last finished
    generation (or, if the fit had finished, only rewrites the outputs). ``engine`` says
    where runs happen: an evaluator of :mod:`serviceprofit.sweeps.evaluators`, already entered
    (``with engine: calibrate(...)``); a Dask one also runs the ABC sampler. Default: here.
    ``progress(message)`` is called after each generation.
    """
    from serviceprofit.calibration.sampler import SeededSampler
    from serviceprofit.sweeps.evaluators import SequentialEvaluator

    for name in ("ABC", "pyabc", "Epsilon", "Distance", "Acceptor", "History"):
        logging.getLogger(name).setLevel(logging.WARNING)
    source_path = Path(scenario)
    base_scenario = load_scenario(source_path)
    spec = load_targets(targets, base_scenario)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = "exists and is not a directory" if out.exists() else exc.strerror
        raise CalibrationError(
            str(out), "", f"cannot be the output directory ({problem})"
        ) from None
    files = {k: out / v for k, v in FILES.items()}
    fingerprint = _fingerprint(base_scenario, spec, backend)
    state = _read_state(files["state"])
    if state is not None and state.get("fingerprint") != fingerprint:
        raise CalibrationError(
            str(out),
            "",
            "holds a calibration of other inputs (scenario, targets or settings differ); "
            "use another --out directory or delete this one",
        )
    fit = spec.fit
    keys = tuple(spec.priors)
    model = KPIModel(
        calibration_base(base_scenario, spec.weeks, spec.scale),
        keys,
        spec.statistics,
        spec.scale,
        fit.seed,
        backend,
    )
    engine = engine or SequentialEvaluator()
    client = getattr(engine, "client", None)
    # Dask jobs of 4 proposals pay the scheduler once per 4 runs; the posterior does not
    # depend on the grouping (each proposal is seeded by its own number).
    sampler = SeededSampler(fit.seed, client=client, batch_size=4)
    abc = _abc(model, spec, sampler)
    db = "sqlite:///" + str(files["history"].resolve())
    done_before = 0
    if files["history"].exists() and state is not None:
        history = abc.load(db, abc_id=1)
        done_before = (
            history.n_populations if history.max_t is not None and history.max_t >= 0 else 0
        )
        if done_before == 0:
            files["history"].unlink()
    if done_before == 0:
        if files["history"].exists():
            files["history"].unlink()
        _write_json(files["state"], {"fingerprint": fingerprint, "status": "running"})
        abc.new(db, spec.observed())
    seconds = dict(state.get("seconds", {})) if state else {}
    began = time.perf_counter()
    deadline = began + fit.max_minutes * 60
    tolerance = spec.tolerance()
    history = abc.history
    while True:
        frame = (
            _history_frame(history) if history.max_t is not None and history.max_t >= 0 else None
        )
        if frame is not None:
            generations = len(frame)
            last_eps = float(frame["epsilon"].iloc[-1])
            if last_eps <= tolerance * (1 + 1e-9) or generations >= fit.generations:
                break
            if time.perf_counter() >= deadline:
                break
            if (
                fit.max_simulations is not None
                and int(frame["samples"].sum()) >= fit.max_simulations
            ):
                break
        if frame is not None:
            # A fresh ABCSMC per generation, loaded from the history: pyabc caches the
            # population it starts from, so a second run() on one object would restart
            # from the prior's epsilon. Loading is also exactly what a resumed run does.
            abc = _abc(model, spec, sampler)
            abc.load(db, abc_id=1)
        abc.run(max_nr_populations=1)
        history = abc.history
        frame = _history_frame(history)
        if progress is not None:
            row = frame.iloc[-1]
            progress(
                f"generation {int(row.t) + 1}/{fit.generations}: epsilon {row.epsilon:.3g} "
                f"(tolerance {tolerance:.3g}), acceptance {row.acceptance:.0%}, "
                f"{time.perf_counter() - began:.0f}s"
            )
    seconds["fit"] = seconds.get("fit", 0.0) + time.perf_counter() - began
    posterior = _posterior_frame(history, list(keys))
    history_frame = _history_frame(history)

    step = time.perf_counter()
    predictive = _predictive(posterior, model, spec, engine)
    seconds["predictive"] = time.perf_counter() - step
    step = time.perf_counter()
    scale_check = _scale_check(base_scenario, spec)
    seconds["scale_check"] = time.perf_counter() - step
    calibration = Calibration(
        out=out,
        scenario=base_scenario,
        scenario_source=source_path,
        targets=spec,
        posterior=posterior,
        parameters=parameter_summary(posterior, spec),
        history=history_frame,
        predictive=predictive,
        checks=_checks(spec, predictive),
        scale_check=scale_check,
        seconds=seconds,
        resumed_from=done_before,
        tolerance=tolerance,
        files=files,
    )
    _write_outputs(calibration, backend, fingerprint)
    return calibration


def calibrated_scenario_data(calibration: Calibration) -> dict[str, Any]:
    """The calibrated scenario as YAML data: ``extends`` the input, posterior medians set."""
    import os

    from serviceprofit.model.scenario import apply_overrides

    medians = {row.key: float(row.median) for row in calibration.parameters.itertuples()}
    data: dict[str, Any] = {}
    source = calibration.scenario_source
    if source is not None:
        data["extends"] = os.path.relpath(source.resolve(), calibration.out.resolve())
    data["name"] = f"{calibration.scenario.name}_calibrated"
    data["description"] = (
        f"{calibration.scenario.name} with the posterior medians of a calibration to "
        f"{Path(calibration.targets.source).name} (posterior: {FILES['posterior']})"
    )
    resolved = calibration.scenario.to_dict()
    body = apply_overrides({}, medians)
    _keep_presets(body, resolved)
    data.update(body)
    return data


def _keep_presets(node: dict[str, Any], resolved: dict[str, Any]) -> None:
    """A preset section set field by field keeps its preset name (``extends`` would
    otherwise replace ``process: customer_value`` by a mapping without one)."""
    for key, value in node.items():
        if isinstance(value, dict) and isinstance(resolved.get(key), dict):
            if "preset" in resolved[key] and "preset" not in value:
                value["preset"] = resolved[key]["preset"]
            _keep_presets(value, resolved[key])


def _provenance(calibration: Calibration, backend: str, fingerprint: str) -> dict[str, Any]:
    """The project's provenance record, with what a calibration adds to it."""
    from serviceprofit.provenance import dependency_versions, record

    spec = calibration.targets
    made = record(
        scenarios=[calibration.scenario],
        backend=backend,
        seeds=spec.fit.seed,
        scenario_file=str(calibration.scenario_source),
        targets_file=spec.source,
        targets=spec.data,
        priors={k: p.describe() for k, p in spec.priors.items()},
        seed_scheme="proposal j of generation t: SeedSequence([seed, 1, t, j]); a particle's "
        "run: SeedSequence([seed, *bits of its parameter values])",
        weeks=spec.weeks,
        scale=spec.scale,
        fingerprint=fingerprint,
        generations=len(calibration.history),
        resumed_from=calibration.resumed_from,
    )
    made["dependencies"] = {**dependency_versions(), "pyabc": _version("pyabc")}
    return made


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _write_outputs(calibration: Calibration, backend: str, fingerprint: str) -> None:
    import yaml

    from serviceprofit.calibration.report import render_report

    files = calibration.files
    calibration.posterior.to_parquet(files["posterior"], index=False)
    calibration.predictive.to_parquet(files["predictive"], index=False)
    header = (
        f"# Calibrated by `serviceprofit calibrate` to {calibration.targets.source}.\n"
        f"# Values are posterior medians; the whole posterior (weighted) is {FILES['posterior']}\n"
        "# next to this file; `serviceprofit compare ... --posterior DIR` carries it along.\n"
    )
    data = calibrated_scenario_data(calibration)
    files["scenario"].write_text(header + yaml.safe_dump(data, sort_keys=False))
    try:
        load_scenario(files["scenario"])
    except ScenarioError as exc:  # the medians lie inside the priors, checked against the schema
        raise CalibrationError(str(files["scenario"]), exc.key, exc.problem) from None
    from serviceprofit.provenance import write_record

    made = _provenance(calibration, backend, fingerprint)
    write_record(made, files["provenance"])
    files["report"].write_text(render_report(calibration, made), encoding="utf-8")
    _write_json(
        files["state"],
        {
            "fingerprint": fingerprint,
            "status": "finished" if calibration.converged else "stopped",
            "generations": len(calibration.history),
            "epsilon": calibration.epsilon,
            "tolerance": calibration.tolerance,
            "seconds": calibration.seconds,
        },
    )
