"""The classroom demo: two firms side by side in the browser (``serviceprofit demo``).

Importing this package is cheap and loads nothing of Solara: the page itself lives in
:mod:`serviceprofit.demo.app`, which only the demo server imports (Mesa's convention:
``app.py`` is the browser page alone). The other modules hold logic that tests can
drive without a browser: :mod:`.classroom` (the two firms and the changes made in
class), :mod:`.controls` (the levers, in the scenario's dotted vocabulary),
:mod:`.charts` and :mod:`.chain` (what the page draws), :mod:`.assets` (Solara's
front-end files, fetched from the npm registry for closed networks) and
:mod:`.server` (starting the page).
"""
