"""The service-profit chain over arrays: the order of a week, and the firm around the kernels.

The same week as ``mesa_backend/model.py``, step for step. Agents' work runs in the
compiled loops of :mod:`.kernel`; the firm's work (the owner's review, staffing, the issue
climate, acquisitions, the accounts and the metrics row) runs in the shared
:class:`~serviceprofit.firm.Firm`, fed a :class:`~serviceprofit.firm.Tally` filled from the
kernels' reductions, so the two backends keep the very same books.
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
import pandas as pd

from .. import rules
from ..firm import METRICS, Firm, Tally
from ..params import Params, ParamSchedule
from ..rng import Stream, draw, run_key
from ..scenario import Scenario
from . import kernel as k
from .state import (
    ACTIVE,
    EVER_COMPLAINED,
    OPEN,
    Customers,
    Staff,
    allocate_customers,
    grow_customers,
    staff_from_columns,
)
from .week_params import WeekParams, week_params

__all__ = ["ArrayModel"]

# Compact the customer arrays once more than this share of their slots is churned.
COMPACT_AT_CHURNED_SHARE = 0.25
# Growth when newcomers do not fit: capacity is multiplied by at least this.
GROWTH = 1.25
# Phases of the week timed in ArrayModel.seconds; the two customer passes run in parallel.
PHASES = ("firm", "staff", "issues", "capacity", "serve", "acquire")
PARALLEL_PHASES = ("issues", "serve")


class ArrayModel:
    """A firm of staff and customers held in arrays, run one week per :meth:`step`."""

    def __init__(self, scenario: Scenario, seed: int = 0, keep_agents: bool = False) -> None:
        self.scenario = scenario
        self.seed = seed
        self.key = run_key(np.random.SeedSequence(seed))
        self.schedule = ParamSchedule(scenario)
        p = self.params = self.schedule(0)
        self.firm = Firm(
            self.schedule, self.key, scenario.population.staff, scenario.owner.initial_cash
        )
        self.week = 0
        self.keep_agents = keep_agents
        self.totals = Tally()
        self.defection_at_risk = [0, 0, 0, 0]
        self.defection_churned = [0, 0, 0, 0]
        self.rows: list[dict[str, float]] = []
        # wall seconds per phase of the week, summed over weeks (for the benchmark)
        self.seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self._week_params: dict[int, tuple[Params, WeekParams, tuple]] = {}
        # one row of staff-side sums per thread the kernels may run on
        self._thread_rows = numba.config.NUMBA_NUM_THREADS

        # staff, numbered 0.. and spread over departments as the Mesa model does
        n_staff = scenario.population.staff
        self.departments = p.departments
        uid = np.arange(n_staff)
        u = draw(self.key, Stream.STAFF_INIT, 0, uid)
        self.staff = staff_from_columns(
            uid=uid,
            department=uid % p.departments,
            skill=rules.initial_staff_skill(p.b.initial_skill, u),
            satisfaction=np.full(n_staff, rules.STAFF_INITIAL_SATISFACTION),
            standard=np.full(n_staff, p.handle_time),
            time_taken=np.full(n_staff, p.handle_time),
            tenure=rules.initial_tenure(u),
            mirror=np.full(n_staff, rules.STAFF_INITIAL_SATISFACTION),
        )
        self.next_staff_uid = n_staff
        self.pressure = np.zeros(p.departments)
        self.served_sum = np.zeros(n_staff)
        self.served_n = np.zeros(n_staff, np.int64)

        # customers, numbered 0.. in creation order
        n = scenario.population.customers
        self.customers: Customers = allocate_customers(n + max(1024, n // 16))
        k.create_customers(self.customers, 0, n, 0, self.key, 0, True, self._params_for(p))
        self.stored = self.active = self.next_customer_uid = n

    def _params_for(self, p: Params) -> WeekParams:
        return self._prepared(p)[1]

    def _prepared(self, p: Params) -> tuple[Params, WeekParams, tuple]:
        """(p, its kernel form, its churn bounds), made once per distinct ``p``."""
        cached = self._week_params.get(id(p))
        if cached is None or cached[0] is not p:
            kp = week_params(p)
            cached = self._week_params[id(p)] = (p, kp, k.churn_bounds(kp))
        return cached

    # -- the week ------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """Run one week; return its metrics row."""
        week, key, c = self.week, self.key, self.customers
        t = Tally()
        clock = time.perf_counter()

        # 1. Owner: reorganisations and the review of lagged KPIs
        p = self.params = self.firm.begin_week(week)
        _, kp, bounds = self._prepared(p)
        clock = self._lap("firm", clock)

        # 2. Staff: satisfaction, skill, time standard, quits; then hiring and layoffs
        quits = k.step_staff(
            self.staff,
            self.served_sum,
            self.served_n,
            self.pressure,
            self.firm.training,
            kp,
            key,
            week,
        )
        t.staff_quits = int(quits.sum())
        self.staff = Staff(*(column[~quits] for column in self.staff))
        self._staff_changes(week, p, t)
        members, pool_start, pool_len = self._pools(p.departments)
        clock = self._lap("staff", clock)

        # 3. Customers: new issues (and self-service); 4. routing
        surge, fixed_share = self.firm.issue_climate(week, p)
        t.customers_start = self.active
        clock = self._lap("firm", clock)
        uses, counts = k.issues_pass(c, self.stored, kp, surge, fixed_share, key, week)
        clock = self._lap("issues", clock)
        t.self_service_uses = int(uses)
        weights = 1.0 + p.handoff_time_share * np.arange(counts.shape[1])
        load = counts[: p.departments] @ weights
        hours_per_head = p.contact_hours * p.productivity * self.firm.capacity_factor(week, p)
        share, self.pressure = k.plan_capacity(
            self.staff, members, pool_start, pool_len, load, hours_per_head, p.b.pressure_exponent
        )
        clock = self._lap("capacity", clock)

        # 5-6. Service, outcome, complaint; 7-8. churn and revenue; 9. word of mouth
        servers = np.zeros((members.size, k.SERVER_COLUMNS))
        servers[:, k.SERVER_SKILL] = self.staff.skill[members]
        servers[:, k.SERVER_SATISFACTION] = self.staff.satisfaction[members]
        servers[:, k.SERVER_TIME_TAKEN] = self.staff.time_taken[members]
        ints, floats, served = k.serve_pass(
            c,
            self.stored,
            kp,
            share,
            servers,
            pool_start,
            pool_len,
            key,
            week,
            bounds,
            self._thread_rows,
        )
        clock = self._lap("serve", clock)
        served = served.sum(axis=0)  # integers: the same total in any order
        self.served_sum = np.zeros(members.size)
        self.served_n = np.zeros(members.size, np.int64)
        self.served_sum[members] = served[:, 0] / k.FIXED_POINT
        self.served_n[members] = served[:, 1]
        self._tally(t, ints.sum(axis=0), floats.sum(axis=0))
        self.active -= t.churned
        bought, referred = self.firm.acquisitions(week, p, t.promoters)

        clock = self._lap("firm", clock)

        # 10. Acquisition
        arriving = bought + referred
        self._make_room(arriving)
        c = self.customers
        k.create_customers(c, self.stored, arriving, self.next_customer_uid, key, week, False, kp)
        total, promoters, detractors = k.tally_newcomers(
            c, self.stored, self.stored + arriving, p.b.promoter_threshold, p.b.detractor_threshold
        )
        t.satisfaction_sum += total
        t.promoters += promoters
        t.detractors += detractors
        self.stored += arriving
        self.active += arriving
        self.next_customer_uid += arriving
        t.acquired = arriving
        t.customers_active = self.active
        clock = self._lap("acquire", clock)

        # 11. Accounting, 12. data collection
        t.staff_active = self.staff.uid.size
        t.staff_satisfaction_sum = float(self.staff.satisfaction.sum())
        row = self.firm.close_week(week, p, t)
        self.totals.add(t)
        self.rows.append(row)
        if not self.keep_agents and self.stored - self.active > COMPACT_AT_CHURNED_SHARE * max(
            self.stored, 1
        ):
            self.stored = int(k.compact(self.customers, self.stored))
        self._lap("firm", clock)
        self.week += 1
        return row

    def _lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] += now - since
        return now

    def _tally(self, t: Tally, ints: np.ndarray, floats: np.ndarray) -> None:
        """Fill the week's tally from the service pass's reduced partials."""
        t.backlog = int(ints[k.I_BACKLOG])
        t.contacts = int(ints[k.I_CONTACTS])
        t.handoffs = int(ints[k.I_HANDOFFS])
        t.first_contacts = int(ints[k.I_FIRST_CONTACTS])
        t.first_contact_resolved = int(ints[k.I_FIRST_RESOLVED])
        t.complaints = int(ints[k.I_COMPLAINTS])
        t.churned = int(ints[k.I_CHURNED])
        t.churned_complained = int(ints[k.I_CHURNED_COMPLAINED])
        t.experience_first_n = int(ints[k.I_EXPERIENCE_FIRST_N])
        t.experience_handoff_n = int(ints[k.I_EXPERIENCE_HANDOFF_N])
        t.promoters = int(ints[k.I_PROMOTERS])
        t.detractors = int(ints[k.I_DETRACTORS])
        t.demand_hours = float(floats[k.F_DEMAND_HOURS])
        t.time_taken_sum = float(floats[k.F_TIME_TAKEN])
        t.contact_cost = float(floats[k.F_CONTACT_COST])
        t.revenue = float(floats[k.F_REVENUE])
        t.churned_revenue = float(floats[k.F_CHURNED_REVENUE])
        t.satisfaction_sum = float(floats[k.F_SATISFACTION])
        t.experience_first_sum = float(floats[k.F_EXPERIENCE_FIRST])
        t.experience_handoff_sum = float(floats[k.F_EXPERIENCE_HANDOFF])
        for outcome in range(4):
            self.defection_at_risk[outcome] += int(ints[k.I_AT_RISK + outcome])
            self.defection_churned[outcome] += int(ints[k.I_DEFECTED + outcome])

    def _staff_changes(self, week: int, p: Params, t: Tally) -> None:
        """Reorganise, lay off the newest, hire toward the target (``_staff_changes``)."""
        s = self.staff
        if self.departments != p.departments:
            self.departments = p.departments
            s = s._replace(department=np.arange(s.uid.size) % p.departments)
        hires, layoffs = self.firm.staffing(week, p, s.uid.size)
        if layoffs:
            s = Staff(*(column[: max(0, s.uid.size - layoffs)] for column in s))
        t.staff_laid_off = layoffs
        if hires:
            sizes = np.bincount(s.department, minlength=p.departments)
            department = np.empty(hires, np.int64)
            for h in range(hires):  # each hire joins the least staffed department
                department[h] = int(np.argmin(sizes))
                sizes[department[h]] += 1
            hired = staff_from_columns(
                uid=np.arange(self.next_staff_uid, self.next_staff_uid + hires),
                department=department,
                skill=np.full(hires, p.b.hire_skill),
                satisfaction=np.full(hires, rules.STAFF_INITIAL_SATISFACTION),
                standard=np.full(hires, p.handle_time),
                time_taken=np.full(hires, p.handle_time),
                tenure=np.zeros(hires),
                mirror=np.full(hires, rules.STAFF_INITIAL_SATISFACTION),
            )
            self.next_staff_uid += hires
            s = Staff(*(np.concatenate(pair) for pair in zip(s, hired, strict=True)))
        t.staff_hired = hires
        self.staff = s

    def _pools(self, departments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Staff positions grouped by department, uid order within each (the Mesa pools)."""
        department = self.staff.department
        members = np.argsort(department, kind="stable").astype(np.int64)
        pool_len = np.bincount(department, minlength=departments).astype(np.int64)
        pool_start = np.concatenate(([0], np.cumsum(pool_len)[:-1])).astype(np.int64)
        return members, pool_start, pool_len

    def _make_room(self, arriving: int) -> None:
        """Make sure ``arriving`` newcomers fit: compact first, grow only if needed."""
        capacity = self.customers.uid.size
        if self.stored + arriving <= capacity:
            return
        if not self.keep_agents:
            self.stored = int(k.compact(self.customers, self.stored))
        if self.stored + arriving > capacity:
            size = max(self.stored + arriving, int(capacity * GROWTH))
            self.customers = grow_customers(self.customers, self.stored, size)

    # -- results ---------------------------------------------------------------------
    def timeseries(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(METRICS))

    def customer_table(self) -> pd.DataFrame:
        """Every customer ever: the active ones first, then the churned (as the Mesa model)."""
        c, n = self.customers, self.stored
        flags = c.flags[:n]
        table = pd.DataFrame(
            {
                "uid": c.uid[:n].astype(np.int64),
                "status": np.where(flags & ACTIVE, "active", "churned"),
                "segment": c.segment[:n].astype(np.int64),
                "channel": c.channel[:n].astype(np.int64),
                "satisfaction": c.satisfaction[:n].astype(np.float64),
                "expectation": c.expectation[:n].astype(np.float64),
                "tenure": c.tenure[:n].astype(np.float64),
                "lifetime_revenue": c.lifetime_revenue[:n].astype(np.float64),
                "ever_complained": (flags & EVER_COMPLAINED) != 0,
                "issue_open": (flags & OPEN) != 0,
            }
        )
        order = np.argsort(table["status"] != "active", kind="stable")
        return table.iloc[order].reset_index(drop=True)

    def staff_table(self) -> pd.DataFrame:
        s = self.staff
        return pd.DataFrame(
            {
                "uid": s.uid,
                "department": s.department,
                "skill": s.skill,
                "satisfaction": s.satisfaction,
                "tenure": s.tenure,
                "time_standard": s.standard,
            }
        )

    def state_bytes(self) -> dict[str, Any]:
        """Bytes held by the agents' arrays (customers at their allocated capacity)."""
        return {
            "customers": sum(a.nbytes for a in self.customers),
            "customer_slots": int(self.customers.uid.size),
            "staff": sum(a.nbytes for a in self.staff),
        }
