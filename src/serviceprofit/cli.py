"""The command line: each subcommand parses, calls one library function, and renders.

Bad input (a scenario, a key, a value, a path) is reported in one line naming the file,
the key and what is allowed, with exit code 2 and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from serviceprofit.model.keys import parse_override
from serviceprofit.model.scenario import ScenarioError, load_scenario
from serviceprofit.model.shipped import locate, shipped_dir
from serviceprofit.provenance import invoked_as

EXIT_BAD_INPUT = 2
#: Most replicates or seeds one command runs (a sweep's experiment has its own cap).
MAX_REPLICATES = 10_000
#: Seeds are non-negative and fit numpy's SeedSequence entropy as a 64-bit integer.
MAX_SEED = 2**63


class InputError(Exception):
    """Bad input found by the CLI itself (paths, options)."""


class Progress:
    """Progress on stderr, shown only once a run has taken more than a few seconds."""

    def __init__(self, label: str, after_seconds: float = 2.0) -> None:
        self.label = label
        self.start = time.perf_counter()
        self.after = after_seconds
        self.tty = sys.stderr.isatty()
        self.shown = False
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        if elapsed < self.after and done < total:
            return
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        share = done / total
        text = f"{self.label}: {done}/{total} ({share:4.0%}) {elapsed:5.1f}s, ~{left:4.1f}s left"
        if self.tty:
            end = "\n" if done == total else ""
            print(f"\r{text}", end=end, file=sys.stderr, flush=True)
            self.shown = True
        else:
            decile = done * 10 // total
            if decile != self.last_decile:
                self.last_decile = decile
                print(text, file=sys.stderr, flush=True)
                self.shown = True


def _overrides(pairs: list[str] | None) -> dict[str, Any]:
    return dict(parse_override(p) for p in (pairs or []))


def _check_flags(args: argparse.Namespace) -> None:
    """Bounds of the numeric flags, checked before anything is read or run."""
    for flag in ("seed",):
        value = getattr(args, flag, None)
        if value is not None and not 0 <= value < MAX_SEED:
            raise InputError(f"--{flag} {value}: must be 0..2**63-1")
    for flag in ("seeds", "replicates"):
        value = getattr(args, flag, None)
        if value is not None and not 1 <= value <= MAX_REPLICATES:
            raise InputError(f"--{flag} {value}: must be 1..{MAX_REPLICATES:,}")
    for flag in ("workers", "dask_workers", "batch_size"):
        value = getattr(args, flag, None)
        if value is not None and not 1 <= value <= 4096:
            bound = "at least 1" if value < 1 else "at most 4096"
            raise InputError(f"--{flag.replace('_', '-')} {value}: must be {bound}")
    weeks = getattr(args, "weeks", None)
    if args.command == "run" and weeks is not None and not 1 <= weeks <= 5200:
        raise InputError(f"--weeks {weeks}: must be 1..5200")
    scale = getattr(args, "scale", None)
    if scale is not None and not 0 < scale <= 100:
        raise InputError(f"--scale {scale}: must be a number above 0 and at most 100")


def _out_dir(path: str | None) -> Path | None:
    """The output directory, checked now and created only when there is something to write.

    A run that fails before writing leaves no empty directory behind.
    """
    if path is None:
        return None
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {path}: exists and is not a directory")
    return out


def _make_dir(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the directory ({exc.strerror})") from None
    return out


def _fits(scenario: Any, backend: str, runs: int = 1, at_once: int = 1) -> None:
    """Refuse, before it starts, a job the machine cannot hold or finish in a day."""
    from serviceprofit.backends.budget import BudgetError, check

    try:
        check(scenario, backend, runs=runs, at_once=at_once)
    except BudgetError as exc:
        raise InputError(str(exc)) from None


def _at_once(workers: int | None, runs: int) -> int:
    from serviceprofit.sweeps.evaluators import default_workers

    return min(runs, workers if workers is not None else default_workers())


def _format(value: Any, unit: str = "") -> str:
    """A summary value for the terminal: "n/a" where the run cannot measure it."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        return f"{text} {unit}" if unit else text
    return str(value)


def cmd_run(args: argparse.Namespace) -> int:
    from serviceprofit.model.scenario import is_market  # light: the market module loads numba

    overrides = _overrides(args.set)
    if args.weeks is not None:
        overrides["weeks"] = args.weeks
    if is_market(args.scenario):
        return _run_market(args, overrides)
    scenario = load_scenario(args.scenario, overrides)
    from serviceprofit.backends.simulate import simulate
    from serviceprofit.model.outcomes import RUN_FIELDS, SUMMARY
    from serviceprofit.provenance import now, record, write_record

    out = _out_dir(args.out)
    if args.precision is not None and args.backend != "numba":
        raise InputError(f"--precision {args.precision}: applies to --backend numba only")
    _fits(scenario, args.backend)
    started = now()
    result = simulate(
        scenario,
        backend=args.backend,
        seed=args.seed,
        progress=Progress(f"{scenario.name} [{args.backend}]"),
        precision=args.precision,
    )
    width = max(len(k) for k in result.summary)
    print(f"{scenario.name}: {scenario.weeks} weeks, backend {args.backend}, seed {args.seed}")
    for key, value in result.summary.items():
        if key not in RUN_FIELDS:
            unit = SUMMARY[key].unit
            unit = SUMMARY[key].unit_in(scenario.economics.currency) if "{currency}" in unit else ""
            print(f"  {key:<{width}}  {_format(value, unit)}")
    if out is not None:
        from serviceprofit.comparison.plots import plot_chain

        _make_dir(out)
        result.timeseries.to_csv(out / "timeseries.csv", index=False)
        made = record(
            scenarios=[scenario],
            backend=args.backend,
            seeds=args.seed,
            overrides=overrides,
            started=started,
        )
        write_record({**result.summary, "provenance": made}, out / "summary.json")
        plot_chain(
            result.timeseries,
            out / "chain.png",
            title=f"{scenario.name} (seed {args.seed})",
            currency=scenario.economics.currency,
        )
        print(f"wrote {out / 'timeseries.csv'}, {out / 'summary.json'}, {out / 'chain.png'}")
    return 0


def _run_market(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """``run`` on a market: one row per firm per week, a summary per firm, who went where."""
    from serviceprofit.backends.market_run import switching_table
    from serviceprofit.backends.simulate import simulate_market
    from serviceprofit.model.market import load_market
    from serviceprofit.provenance import now, record, write_record

    market = load_market(args.scenario, overrides)
    out = _out_dir(args.out)
    if args.precision is not None and args.backend != "numba":
        raise InputError(f"--precision {args.precision}: applies to --backend numba only")
    for scenario in market.firms.values():
        _fits(scenario, args.backend)
    started = now()
    result = simulate_market(market, backend=args.backend, seed=args.seed, precision=args.precision)
    print(
        f"{market.name}: {market.weeks} weeks, {len(market.firms)} firms,"
        f" backend {args.backend}, seed {args.seed}"
    )
    shown = ("customers_final", "market_share_final", "won_from_rivals_total",
             "lost_to_rivals_total", "lost_to_outside_total", "profit_total")  # fmt: skip
    for name, summary in result.summaries().items():
        figures = ", ".join(f"{key} {_format(summary[key])}" for key in shown)
        print(f"  {name}: {figures}")
    if out is not None:
        _make_dir(out)
        result.timeseries().to_csv(out / "timeseries.csv", index=False)
        switching_table(list(market.firms), result.flows).to_csv(out / "switching.csv", index=False)
        made = record(
            scenarios=list(market.firms.values()),
            backend=args.backend,
            seeds=args.seed,
            overrides=overrides,
            started=started,
            market=market.to_dict(),
        )
        summary = {
            "market": market.name,
            "firms": result.summaries(),
            "people": result.people,
            "provenance": made,
        }
        write_record(summary, out / "summary.json")
        written = ", ".join(
            str(out / f) for f in ("timeseries.csv", "summary.json", "switching.csv")
        )
        print(f"wrote {written}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    scenario = load_scenario(args.scenario, _overrides(args.set))
    print(yaml.safe_dump(scenario.to_dict(), sort_keys=False), end="")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from serviceprofit.comparison.claims import CLAIM_RUNS, measure_claims

    scenarios = Path(args.scenarios) if args.scenarios else shipped_dir("scenarios")
    if not scenarios.is_dir():
        raise InputError(f"--scenarios {args.scenarios}: not a directory")
    out = _out_dir(args.out)
    baseline = scenarios / "baseline.yaml"
    if baseline.is_file():
        size = load_scenario(baseline)
        scaled = max(1, round(size.population.customers * args.scale))
        size = size.with_overrides({"population.customers": scaled})
        runs = args.seeds * len(CLAIM_RUNS)
        _fits(size, args.backend, runs, _at_once(args.workers, runs))
    report = measure_claims(
        scenarios,
        seeds=args.seeds,
        scale=args.scale,
        backend=args.backend,
        workers=args.workers,
        progress=Progress("claims"),
        seed=args.seed,
    )
    for claim in report.claims:
        print(f"Claim {claim.number}: {'HOLDS' if claim.holds else 'FAILS'}. {claim.statement}")
        for name, ok in claim.checks.items():
            print(f"  [{'x' if ok else ' '}] {name}")
        for name, value in claim.figures.items():
            print(f"      {name}: {_format(value)}")
    if out is not None:
        from serviceprofit.provenance import record, write_record

        _make_dir(out)
        report.runs.to_csv(out / "claims_runs.csv", index=False)
        made = record(
            scenarios=[s.with_overrides({"name": n}) for n, s in report.scenarios.items()],
            backend=args.backend,
            seeds=sorted(int(x) for x in report.runs["seed"].unique()),
            base_seed=args.seed,
            scale=args.scale,
        )
        write_record(made, out / "provenance.json")
        print(f"wrote {out / 'claims_runs.csv'}, {out / 'provenance.json'}")
    return 0 if report.holds else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from serviceprofit.backends import resolve_backend
    from serviceprofit.comparison.compare import compare
    from serviceprofit.comparison.report import (
        format_market_table,
        format_table,
        write_comparison,
    )

    if args.replicates < 2:
        raise InputError(f"--replicates {args.replicates}: need at least 2 for an interval")
    out = _out_dir(args.out)
    backend = resolve_backend(args.backend)
    overrides = _overrides(args.set)
    runs = args.replicates * len(args.scenarios)
    from serviceprofit.comparison.market import market_inputs

    markets = market_inputs(args.scenarios)
    for item in args.scenarios:
        try:
            if markets:
                from serviceprofit.model.market import load_market

                firms = list(load_market(item, overrides or None).firms.values())
            else:
                firms = [load_scenario(item, overrides or None)]
        except ScenarioError:
            continue  # compare() reports it, in the words it uses for every scenario
        for scenario in firms:  # a market run holds every firm at once; numba runs them in turn
            _fits(scenario, backend, runs, 1 if markets else _at_once(args.workers, runs))
    comparison = compare(
        args.scenarios,
        replicates=args.replicates,
        backend=backend,
        seed=args.seed,
        baseline=args.baseline,
        overrides=overrides,
        workers=args.workers,
        progress=Progress(f"compare [{backend}] runs"),
        posterior=args.posterior,
        seeds_per_draw=args.seeds_per_draw,
        firm=args.firm,
    )
    print(format_table(comparison))
    if comparison.market is not None:
        print()
        print(format_market_table(comparison))
    if out is None:
        print("(add --out DIR to write comparison.csv, runs.csv and report.html)")
        return 0
    paths = write_comparison(comparison, out, question=args.question)
    tables = [p for k, p in paths.items() if k not in ("report", "provenance")]
    print("wrote " + ", ".join(str(p) for p in tables))
    print(f"report: {paths['report']}")
    return 0


def _duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


class SweepProgressLine:
    """A sweep's progress on stderr: runs done, rate, time left (a line per 10% off a tty)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def __call__(self, p: Any) -> None:
        text = (
            f"{self.label}: {p.done}/{p.total} runs ({p.done / max(p.total, 1):4.0%}),"
            f" {p.rate:.2f} runs/s, {_duration(p.remaining_seconds)} left"
            + (f", {p.failed} failed" if p.failed else "")
        )
        finished = p.done + p.failed >= p.total
        if self.tty:
            print(f"\r{text}   ", end="\n" if finished else "", file=sys.stderr, flush=True)
            return
        decile = p.done * 10 // max(p.total, 1)
        if decile != self.last_decile or finished:
            self.last_decile = decile
            print(text, file=sys.stderr, flush=True)


def _engine(args: argparse.Namespace) -> Any:
    from serviceprofit.sweeps.evaluators import (
        DaskEvaluator,
        LocalDaskEvaluator,
        ProcessPoolEvaluator,
        SequentialEvaluator,
    )

    if args.scheduler:
        if not args.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            raise InputError(f"--scheduler {args.scheduler}: expected tcp://HOST:PORT")
        return DaskEvaluator(args.scheduler)
    if args.dask_workers:
        return LocalDaskEvaluator(args.dask_workers)
    if args.workers == 1:
        return SequentialEvaluator()
    return ProcessPoolEvaluator(args.workers)


def cmd_sweep(args: argparse.Namespace) -> int:
    from serviceprofit.sweeps.evaluators import EngineError
    from serviceprofit.sweeps.experiment import load_experiment
    from serviceprofit.sweeps.sweep import sweep

    experiment = load_experiment(args.experiment)
    runs = experiment.points * experiment.replicates
    base = experiment.base
    firms = list(base.firms.values()) if experiment.firm is not None else [base]  # type: ignore[union-attr]
    for scenario in firms:  # a market run holds every firm at once
        _fits(
            scenario,
            experiment.backend,
            runs,
            1 if args.scheduler else _at_once(args.workers or args.dask_workers, runs),
        )
    engine = _engine(args)
    try:
        report = sweep(
            experiment,
            args.out,
            engine=engine,
            batch_size=args.batch_size,
            progress=SweepProgressLine(f"sweep {experiment.name}"),
            keep_timeseries=args.keep_timeseries,
        )
    except EngineError as exc:
        raise InputError(str(exc)) from None
    except KeyboardInterrupt:
        print(
            f"finished runs are saved in {args.out}; run the same command to resume",
            file=sys.stderr,
        )
        raise
    print(
        f"{report.experiment}: {report.skipped + report.finished}/{report.total} runs done"
        f" ({report.finished} now, {report.skipped} from before, {report.failed} failed)"
        f" in {_duration(report.seconds)} on {report.engine} x{report.workers}"
    )
    if report.finished:
        print(
            f"  {report.runs_per_second:.2f} runs/s; the model took"
            f" {report.model_share:.0%} of the workers' time"
        )
    print(f"  results: {Path(args.out) / 'runs'} ({report.batches} new batch files)")
    for line in report.set_aside:
        print(f"  {line}; its runs were run again")
    if report.failures:
        for run_id, message in report.failures[:3]:
            print(f"  run {run_id} failed: {message}")
        print("  failed runs were not written; run the same command again to retry them")
        return 1
    print(f"  next: serviceprofit analyze {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from serviceprofit.calibration import calibrate
    from serviceprofit.sweeps.evaluators import EngineError, SequentialEvaluator

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: must be at least 1")
    if args.scheduler or args.dask_workers or (args.workers or 1) > 1:
        # Local processes are a local Dask cluster: pyabc's own multicore sampler forks,
        # which is unsafe once numba's threads have started (docs/calibration.md).
        if (args.workers or 1) > 1:
            args.dask_workers, args.workers = args.workers, None
        engine = _engine(args)
    else:
        engine = SequentialEvaluator()
    started = time.perf_counter()
    try:
        with engine:
            result = calibrate(
                args.scenario,
                args.targets,
                args.out,
                engine=engine,
                progress=lambda message: print(f"  {message}", file=sys.stderr, flush=True),
            )
    except EngineError as exc:
        raise InputError(str(exc)) from None
    except KeyboardInterrupt:
        print(
            f"finished generations are saved in {args.out}; run the same command to resume",
            file=sys.stderr,
        )
        raise
    history = result.history
    print(
        f"{result.scenario.name}: {len(history)} generations, {int(history['samples'].sum())} runs,"
        f" epsilon {result.epsilon:.3g} (tolerance {result.tolerance:.3g}) in"
        f" {_duration(time.perf_counter() - started)}"
        + (f" (resumed after {result.resumed_from})" if result.resumed_from else "")
    )
    for row in result.parameters.itertuples():
        print(
            f"  {row.key:<34} median {row.median:<10.4g} 90% {row.low:.4g} to {row.high:.4g}"
            f"  (prior {row.prior_low:.4g} to {row.prior_high:.4g};"
            f" width ratio {row.width_ratio:.2f})"
        )
    for row in result.checks.itertuples():
        print(
            f"  {row.label:<34} observed {row.observed:<10.4g} predictive 90%"
            f" {row.band_low:.4g} to {row.band_high:.4g}"
        )
    steps = ", ".join(f"{k.replace('_', ' ')} {_duration(v)}" for k, v in result.seconds.items())
    print(f"  times: {steps}")
    for warning in result.warnings():
        print(f"  warning: {warning}")
    print(f"  calibrated scenario: {result.files['scenario']}")
    print(f"  report: {result.files['report']}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from serviceprofit.sweeps.analysis import analyze

    report = analyze(args.dir, series=args.series or ())
    import pandas as pd

    for line in report.set_aside:
        print(f"{line}; run the sweep command again to redo its runs", file=sys.stderr)

    with pd.option_context("display.width", 120, "display.max_rows", 60):
        print(report.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if report.runs < report.runs_total:
        print(f"(from {report.runs} of {report.runs_total} runs: the sweep is not finished)")
    print("wrote " + ", ".join(str(f) for f in report.files))
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    from serviceprofit.rerun import rerun

    done = rerun(args.dir, args.run_id)
    summary = done.summary
    width = max(len(k) for k in summary)
    print(f"run {done.run_id} of {args.dir} ({done.kind}), re-run:")
    for key, value in summary.items():
        print(f"  {key:<{width}}  {_format(value)}")
    if done.identical:
        print("identical to the stored row")
        return 0
    print(f"{len(done.differences)} differences from the stored row:")
    for key, stored, fresh in done.differences:
        print(f"  {key}: stored {stored!r}, now {fresh!r}")
    return 1


def cmd_bench(args: argparse.Namespace) -> int:
    from serviceprofit.bench import QUICK, benchmark, describe

    options = dict(QUICK) if args.quick else {}
    if args.sizes:
        try:
            options["sizes"] = tuple(int(n.replace("_", "")) for n in args.sizes.split(","))
        except ValueError:
            message = f"--sizes {args.sizes}: expected numbers, e.g. 100000,1000000"
            raise InputError(message) from None
    if args.same_size:
        try:
            pairs = [pair.lower().split("x") for pair in args.same_size]
            options["same_sizes"] = tuple((int(n), int(weeks)) for n, weeks in pairs)
        except ValueError:
            message = f"--same-size {args.same_size}: expected CUSTOMERSxWEEKS, e.g. 100000x13"
            raise InputError(message) from None
    for name in ("weeks", "scaling_size", "scaling_weeks"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    scenario = load_scenario(args.scenario, _overrides(args.set))
    figures = benchmark(
        scenario,
        seed=args.seed,
        compile_step=not args.no_compile,
        progress=lambda message: print(f"  running: {message}", file=sys.stderr, flush=True),
        **options,
    )
    print("\n".join(describe(figures)))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from serviceprofit.demo.assets import AssetsError, ensure_assets
    from serviceprofit.demo.server import DemoConfig, DemoServer, ServerError, default_library

    if len(args.scenarios) > 2:
        raise InputError("demo: give at most two scenarios, one for each firm")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0..65535 (0: any free port)")
    files = [str(locate(f, "scenarios").resolve()) for f in args.scenarios]
    library = tuple(str(p) for p in default_library(files))
    try:
        server = DemoServer(DemoConfig(tuple(files), library, args.seed), args.host, args.port)
    except ServerError as exc:
        raise InputError(str(exc)) from None
    try:
        fetched = ensure_assets()
    except AssetsError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    else:
        if fetched:
            names = ", ".join(p.spec for p in fetched)
            print(f"fetched Solara's front-end files: {names}", file=sys.stderr)
    print(f"Classroom demo at {server.url}  (Ctrl+C to stop)", flush=True)
    if server.exposure:
        print(f"warning: {server.exposure}", file=sys.stderr, flush=True)
    server.serve()
    return 0


def cmd_classroom(args: argparse.Namespace) -> int:
    from serviceprofit.classroom.game import GameError
    from serviceprofit.classroom.launch import LaunchError, open_game
    from serviceprofit.demo.assets import AssetsError, ensure_assets
    from serviceprofit.demo.server import ServerError

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0..65535 (0: any free port)")
    try:
        server = open_game(
            args.market,
            teams=args.teams,
            quarters=args.quarters,
            seed=args.seed,
            game_dir=args.game_dir,
            host=args.host,
            port=args.port,
        )
    except (LaunchError, GameError, ServerError) as exc:
        raise InputError(str(exc)) from None
    try:
        ensure_assets()
    except AssetsError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    game = server.game
    print(
        f"Classroom game in {game.store.path.parent}: quarter {game.played + 1} of {game.quarters}",
        flush=True,
    )
    print(f"Team page:        {server.url}", flush=True)
    print(f"Facilitator page: {server.url}facilitator  token: {game.token}", flush=True)
    for team in game.store.teams():
        print(f"  team {team.number:>2}  join code {team.code}  firm {team.firm}", flush=True)
    if server.exposure:
        print(f"warning: {server.exposure}", file=sys.stderr, flush=True)
    server.serve()
    return 0


SCENARIO_HELP = "scenario YAML file, or a shipped scenario's name, e.g. baseline"
BACKEND_HELP = "mesa (agents as objects) or numba (arrays, far faster); the same model"
SET_HELP = "override a scenario key, e.g. strategy.process=cost_minimised (repeatable)"
VERSION_HELP = "print the version and exit"


def build_parser() -> argparse.ArgumentParser:
    from serviceprofit import __version__
    from serviceprofit.backends import AUTO, BACKEND_RULE, BACKENDS

    parser = argparse.ArgumentParser(
        prog="serviceprofit",
        description="Agent-based simulation of the service-profit chain.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help=VERSION_HELP
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one scenario and write its results")
    run.add_argument("scenario", help=SCENARIO_HELP)
    run.add_argument("--backend", choices=sorted(BACKENDS), default="mesa", help=BACKEND_HELP)
    run.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    run.add_argument(
        "--precision",
        choices=("float32", "float64"),
        default=None,
        help="numba backend: customer state in float32 (default) or float64, with which"
        " a run is the Mesa run bit for bit",
    )
    run.add_argument("--weeks", type=int, help="override the scenario's weeks")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    run.add_argument("--out", metavar="DIR", help="write timeseries.csv, summary.json, chain.png")
    run.set_defaults(func=cmd_run)

    claims = sub.add_parser(
        "claims", help="check the five calibration claims (docs/ODD.md) over seeds"
    )
    claims.add_argument(
        "--scenarios", metavar="DIR", help="folder of the claim scenarios (default: shipped)"
    )
    claims.add_argument("--seeds", type=int, default=10, help="paired seeds per run (default 10)")
    claims.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="scale customers, staff and marketing (e.g. 0.4 for a quick check)",
    )
    claims.add_argument("--backend", choices=sorted(BACKENDS), default="mesa", help=BACKEND_HELP)
    claims.add_argument("--workers", type=int, help="processes (default: all cores)")
    claims.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed the replicate seeds derive from, as in compare (default 0)",
    )
    claims.add_argument("--out", metavar="DIR", help="write claims_runs.csv")
    claims.set_defaults(func=cmd_claims)

    cmp = sub.add_parser(
        "compare", help="compare scenarios over replicates: intervals, paired differences, report"
    )
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO", help=SCENARIO_HELP + "s")
    cmp.add_argument("--replicates", type=int, default=10, help="runs per scenario (default 10)")
    cmp.add_argument(
        "--backend", choices=[AUTO, *sorted(BACKENDS)], default=AUTO, help=BACKEND_RULE
    )
    cmp.add_argument("--baseline", help="scenario the others are compared with (default: first)")
    cmp.add_argument("--seed", type=int, default=0, help="seed the replicate seeds derive from")
    cmp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override every scenario")
    cmp.add_argument("--workers", type=int, help="processes (default: all cores; 1: serial)")
    cmp.add_argument(
        "--posterior",
        metavar="DIR",
        help="a calibration directory (or its posterior.parquet): replicates draw the "
        "calibrated constants from it, so intervals include parameter uncertainty",
    )
    cmp.add_argument(
        "--seeds-per-draw",
        type=int,
        default=2,
        metavar="N",
        help="with --posterior: replicates sharing one posterior draw (default 2)",
    )
    cmp.add_argument(
        "--firm",
        metavar="NAME",
        help="comparing market files: the firm whose outcomes are compared (its rivals are"
        " reported alongside)",
    )
    cmp.add_argument("--question", help="the question, for the report (default: from the files)")
    cmp.add_argument("--out", metavar="DIR", help="write comparison.csv, runs.csv, report.html")
    cmp.set_defaults(func=cmd_compare)

    swp = sub.add_parser(
        "sweep",
        help="run an experiment's design into a resumable results dir",
        description="Run an experiment's design into a resumable results dir. The "
        f"experiment's backend: key chooses the backend; {BACKEND_RULE}.",
    )
    swp.add_argument(
        "experiment",
        help="experiment YAML file, or a shipped experiment's name, e.g. grid_strategy"
        " (see docs/sweeps.md)",
    )
    swp.add_argument("--out", required=True, metavar="DIR", help="results directory")
    where = swp.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, help="local processes (default: all cores; 1: serial)"
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    where.add_argument("--dask-workers", type=int, metavar="N", help="start a local Dask cluster")
    swp.add_argument("--batch-size", type=int, help="runs per batch file (default: automatic)")
    swp.add_argument(
        "--keep-timeseries",
        action="store_true",
        help="also keep every run's weekly series (DIR/series/); resume with the same flag",
    )
    swp.set_defaults(func=cmd_sweep)

    cal = sub.add_parser(
        "calibrate", help="fit behaviour constants to a firm's figures (ABC-SMC), resumably"
    )
    cal.add_argument("scenario", help="scenario YAML file of the firm")
    cal.add_argument("--targets", required=True, help="targets YAML (see docs/calibration.md)")
    cal.add_argument("--out", required=True, metavar="DIR", help="results directory")
    where = cal.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local worker processes (default 1: here)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    where.add_argument("--dask-workers", type=int, metavar="N", help="start a local Dask cluster")
    cal.set_defaults(func=cmd_calibrate, batch_size=None)

    ana = sub.add_parser("analyze", help="sensitivity indices or main effects of a sweep")
    ana.add_argument("dir", metavar="DIR", help="a sweep's results directory")
    ana.add_argument(
        "--series",
        action="append",
        metavar="METRIC",
        help="plot a weekly metric's mean and 5-95%% band by factor level (repeatable;"
        " needs a sweep run with --keep-timeseries)",
    )
    ana.set_defaults(func=cmd_analyze)

    rer = sub.add_parser(
        "rerun", help="re-run one run of a comparison or sweep and check it gives the same numbers"
    )
    rer.add_argument("dir", metavar="DIR", help="a compare --out or sweep --out directory")
    rer.add_argument("run_id", type=int, metavar="RUN_ID", help="the run's run_id in its row")
    rer.set_defaults(func=cmd_rerun)

    demo = sub.add_parser("demo", help="classroom demo: two firms side by side in the browser")
    demo.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="one scenario for both firms, or one per firm "
        "(default: customer_value against cost_minimised)",
    )
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; any other address "
        "lets the network open the page, and the command says so)",
    )
    demo.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    demo.add_argument("--seed", type=int, default=0, help="the seed both firms start from")
    demo.set_defaults(func=cmd_demo)

    room = sub.add_parser(
        "classroom", help="classroom game: each team owns a firm in a shared market, by quarters"
    )
    room.add_argument(
        "market",
        nargs="?",
        default="three_firms",
        metavar="SCENARIO_OR_MARKET",
        help="a market (file or shipped name; default three_firms), or a scenario played "
        "against itself",
    )
    room.add_argument("--teams", type=int, default=3, help="teams (default 3; 1: solo play)")
    room.add_argument("--quarters", type=int, default=8, help="quarters of 13 weeks (default 8)")
    room.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; any other address "
        "lets the network open the pages, and the command says so)",
    )
    room.add_argument("--port", type=int, default=8766, help="port (default 8766; 0: any free)")
    room.add_argument("--seed", type=int, default=0, help="the market's seed (same luck for all)")
    room.add_argument(
        "--game-dir",
        default=None,
        help="where the game is saved (default games/NAME); the same command resumes it",
    )
    room.set_defaults(func=cmd_classroom)

    bench = sub.add_parser(
        "bench", help="customer-steps per second of both backends, side by side and at scale"
    )
    bench.add_argument(
        "scenario", nargs="?", default="baseline", help=SCENARIO_HELP + " (default: baseline)"
    )
    bench.add_argument("--quick", action="store_true", help="small sizes: a minute or two")
    bench.add_argument("--sizes", help="numba throughput sizes, e.g. 100000,1000000,10000000")
    bench.add_argument("--weeks", type=int, help="weeks of the throughput runs (156)")
    bench.add_argument(
        "--same-size",
        action="append",
        metavar="CUSTOMERSxWEEKS",
        help="a size for Mesa and numba side by side (repeatable; 100000x13 and 1000000x3)",
    )
    bench.add_argument("--scaling-size", type=int, help="customers of the thread-scaling runs")
    bench.add_argument("--scaling-weeks", type=int, help="weeks of the thread-scaling runs")
    bench.add_argument("--seed", type=int, default=0, help="seed of every timed run (default 0)")
    bench.add_argument("--no-compile", action="store_true", help="skip the compile timing")
    bench.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    bench.add_argument("--out", metavar="FILE", help="write the figures as JSON")
    bench.set_defaults(func=cmd_bench)

    show = sub.add_parser("show", help="print a scenario with every default and preset resolved")
    show.add_argument("scenario", help=SCENARIO_HELP)
    show.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    show.set_defaults(func=cmd_show)
    return parser


def _non_finite(exc: Exception) -> bool:
    """Whether ``exc`` is a result with NaN or infinity, an input error like the others.

    Read off an already-imported ``result`` module: a command that never ran a model
    cannot have raised it, and importing ``result`` (pandas) just to catch it would make
    every bad-input answer take a second.
    """
    result = sys.modules.get("serviceprofit.model.result")
    return result is not None and isinstance(exc, result.NonFiniteResultError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_flags(args)
        with invoked_as(sys.argv[1:] if argv is None else argv):
            return args.func(args)
    except (ScenarioError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        if not _non_finite(exc):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
