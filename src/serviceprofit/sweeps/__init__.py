"""Sweeps: an experiment file (:mod:`.experiment`) and its design (:mod:`.design`), run
in batches (:mod:`.runs`) by an evaluator (:mod:`.evaluators`: in process, a pool or
Dask) into a resumable store (:mod:`.store`), then analysed (:mod:`.analysis`)."""
