"""The classroom game: each team owns one firm in a shared market, a quarter at a time.

The game is a layer over the market simulation, not a second model: a team's decisions
for a quarter become events at the quarter's first week on that firm's keys, and the
market's weekly rows per firm come from one operation of a :class:`~.engine.MarketRun`
("the rows for the decisions so far"). Under common random numbers a run is a pure
function of (market, decisions, seed), so re-running from week 0 is exact; the game
saves decisions, rows and a digest of them in SQLite at every quarter boundary
(:mod:`.store`), so a restarted server resumes where it was.

Modules: :mod:`.decisions` (the owner's levers, bounds, budget), :mod:`.engine` (the
market boundary), :mod:`.store` (SQLite), :mod:`.auth` (join codes, facilitator token),
:mod:`.game` (what a team and the facilitator can do and see), :mod:`.server` (HTTP).
Nothing here is imported by ``import serviceprofit``.
"""
