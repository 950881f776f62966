"""Two firms side by side, from the same seed, and the changes a class makes to them.

The comparison is fair because both firms draw from the same seed: what differs
between them comes from the strategy, not from luck. A lever changed at week w is
recorded as a scenario event at week w (the scenario's own mechanism for a change in
mid-run) and the firm is replayed to week w with the same seed. Every curve on the
page is therefore what ``serviceprofit run`` gives for the firm's scenario with those
events written in, so a student can run it again at home.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serviceprofit.demo.controls import controls, node_of, read
from serviceprofit.model import keys, rules
from serviceprofit.model.scenario import Scenario, load_scenario

__all__ = ["Classroom", "FirmRun", "PopulationCounts", "find_scenarios"]

CHANGE_LABEL = "changed in class"


@dataclass(frozen=True)
class PopulationCounts:
    """Customers now, by how they would score the firm, and those lost since week 0."""

    promoters: int
    passives: int
    detractors: int
    churned: int

    @property
    def active(self) -> int:
        return self.promoters + self.passives + self.detractors


class FirmRun:
    """One firm: its scenario, the changes made in class, its model and its history."""

    def __init__(self, label: str, scenario: Scenario, seed: int = 0) -> None:
        self.label = label
        self.base = scenario
        self.changes: dict[int, dict[str, Any]] = {}
        self.seed = seed
        self.history: list[dict[str, float]] = []
        self.model: Any = None
        self.restart(seed)

    @property
    def week(self) -> int:
        return len(self.history)

    def scenario(self) -> Scenario:
        """The base scenario plus the changes made in class, as events."""
        if not self.changes:
            return self.base
        data = self.base.to_dict()
        data["events"] = [
            *data["events"],
            *(
                {"week": week, "set": dict(values), "label": CHANGE_LABEL}
                for week, values in sorted(self.changes.items())
            ),
        ]
        return load_scenario(data)

    def restart(self, seed: int | None = None) -> None:
        """Back to week 0 with the scenario as it stands (changes included)."""
        from serviceprofit.backends.mesa.model import ServiceProfitModel

        if seed is not None:
            self.seed = seed
        self.model = ServiceProfitModel(self.scenario(), seed=self.seed)
        self.history = []

    def advance(self, weeks: int) -> int:
        """Run up to ``weeks`` more weeks (not past the scenario's end); return how many."""
        done = 0
        while done < weeks and self.week < self.model.config.weeks:
            self.model.step()
            self.history.append(dict(self.model.row))
            done += 1
        return done

    def change(self, key: str, value: Any) -> None:
        """Set one lever from this week on (see :meth:`change_many`)."""
        self.change_many({key: value})

    def change_many(self, values: dict[str, Any]) -> None:
        """Set levers from this week on, then replay the firm to this week.

        Raises :class:`~serviceprofit.model.scenario.ScenarioError` for a value the schema
        rejects, leaving the firm as it was.
        """
        week = self.week
        now = self.scenario().at_week(week).with_overrides(values, source="the page")
        nodes = {node_of(key): read_node(now, node_of(key)) for key in values}
        if week == 0:
            self.base = self.base.with_overrides(nodes, source="the page")
        else:
            self.changes[week] = {**self.changes.get(week, {}), **nodes}
        self.restart()
        self.advance(week)

    def fold(self) -> None:
        """Make the changes made in class part of the base scenario (for a reset)."""
        base = self.base
        for _, values in sorted(self.changes.items()):
            base = base.with_overrides(values, source=CHANGE_LABEL)
        self.base, self.changes = base, {}

    def settings(self) -> dict[str, Any]:
        """Each control's value in force this week (the next week to run)."""
        now = self.scenario().at_week(self.week)
        return {c.key: read(now, c.key) for c in controls()}

    def population(self) -> PopulationCounts:
        """Active customers by NPS class (the model's own thresholds) and all churned."""
        p = self.model.params
        kinds = [
            rules.nps_class(value, p.promoter_threshold, p.detractor_threshold)
            for value in self.model.customers.get("satisfaction")
        ]
        promoters, detractors = kinds.count(1), kinds.count(-1)
        passives = len(kinds) - promoters - detractors
        churned = int(sum(row["customers_churned"] for row in self.history))
        return PopulationCounts(promoters, passives, detractors, churned)


def read_node(scenario: Scenario, key: str) -> Any:
    """The plain value at a dotted key; a preset node as its whole dict of fields."""
    return keys.get(scenario.to_dict(), key)


class Classroom:
    """Two (or more) firms kept at the same week, from one seed.

    The page's play loop runs in a worker thread while buttons arrive from the
    browser, so every method takes the lock.
    """

    def __init__(self, firms: Iterable[tuple[str, Scenario]], seed: int = 0) -> None:
        self.seed = seed
        self.firms = [FirmRun(label, scenario, seed) for label, scenario in firms]
        self.lock = threading.RLock()
        self.pending: dict[tuple[int, str], Any] = {}
        self.generation = 0
        self.epoch = 0  # counts restarts (reset, a new scenario)

    @property
    def week(self) -> int:
        return self.firms[0].week

    @property
    def weeks(self) -> int:
        """The shortest horizon of the firms: the week the comparison ends."""
        return min(f.model.config.weeks for f in self.firms)

    @property
    def finished(self) -> bool:
        return self.week >= self.weeks

    def step(self, weeks: int = 1, epoch: int | None = None) -> int:
        """Advance every firm by up to ``weeks``; return the weeks run.

        Edits still queued apply first, so an edit counts from the week it was made.
        With ``epoch`` (read from :attr:`epoch` before), nothing runs if a reset or a
        new scenario came in between: a play loop must not step a run just restarted.
        """
        with self.lock:
            if epoch is not None and epoch != self.epoch:
                return 0
            if self.pending:
                self.apply_pending(self.generation)
            weeks = max(0, min(weeks, self.weeks - self.week))
            for firm in self.firms:
                firm.advance(weeks)
            return weeks

    def reset(self, seed: int | None = None) -> None:
        """Week 0 again, with every lever as it stands now."""
        with self.lock:
            self.epoch += 1
            if seed is not None:
                self.seed = seed
            for firm in self.firms:
                firm.fold()
                firm.restart(self.seed)

    def change(self, firm: int, key: str, value: Any) -> None:
        with self.lock:
            self.firms[firm].change(key, value)

    # A slider sends many values while it is dragged, and applying one replays the firm
    # from week 0: the page queues edits and applies them once no newer edit has come.
    def request(self, firm: int, key: str, value: Any) -> int:
        """Queue an edit; return its generation (pass it to :meth:`apply_pending`)."""
        with self.lock:
            self.pending[(firm, key)] = value
            self.generation += 1
            return self.generation

    def apply_pending(self, generation: int) -> bool:
        """Apply the queued edits, one replay per firm, unless a newer edit came in.

        Returns whether edits were applied. A value the schema rejects raises
        :class:`~serviceprofit.model.scenario.ScenarioError`; the queue is emptied either way.
        """
        with self.lock:
            if generation != self.generation or not self.pending:
                return False
            edits, self.pending = self.pending, {}
            by_firm: dict[int, dict[str, Any]] = {}
            for (firm, key), value in edits.items():
                by_firm.setdefault(firm, {})[key] = value
            for firm, values in sorted(by_firm.items()):
                self.firms[firm].change_many(values)
            return True

    def settings(self, firm: int) -> dict[str, Any]:
        """A firm's levers as the page shows them: in force, or queued to be."""
        with self.lock:
            queued = {key: v for (f, key), v in self.pending.items() if f == firm}
            return {**self.firms[firm].settings(), **queued}

    def load(self, firm: int, scenario: Scenario) -> None:
        """Give one firm a new scenario; both restart at week 0 for a fair start."""
        with self.lock:
            self.firms[firm].base = scenario
            self.firms[firm].changes = {}
            self.reset()

    def histories(self) -> dict[str, list[dict[str, float]]]:
        with self.lock:
            return {f.label: list(f.history) for f in self.firms}


def find_scenarios(places: Iterable[Path]) -> dict[str, Path]:
    """Scenario files by name (file stem), from the first place that holds each name."""
    found: dict[str, Path] = {}
    for place in places:
        if place.is_dir():
            for path in sorted(place.glob("*.yaml")):
                found.setdefault(path.stem, path)
    return found
