"""Comparing strategies: paired replicates (:mod:`.compare`), the report a business
reader gets (:mod:`.report`, :mod:`.figures`, :mod:`.plots`), when the winners cross
(:mod:`.crossing`), and the claims the default calibration must show (:mod:`.claims`)."""
