"""The model: what a scenario says, and the rules, draws and week that both backends run.

- :mod:`.scenario`, :mod:`.market` (and :mod:`.safe_yaml`, :mod:`.shipped`): the inputs,
  validated; :mod:`.keys` the dotted-key vocabulary; :mod:`.params` the flat parameter
  record both backends read.
- :mod:`.rules` the equations; :mod:`.rng` the keyed draws; :mod:`.week` an agent's week
  and :mod:`.firm` the firm's week, written once and called by both backends;
  :mod:`.network` and :mod:`.choice` the market's customers, ties and choices.
- :mod:`.result`, :mod:`.outcomes`, :mod:`.seeds`: what a run returns, the outcome
  registry, and the one seed scheme.

Nothing here is imported by ``import serviceprofit.model``: each module loads on use.
"""
