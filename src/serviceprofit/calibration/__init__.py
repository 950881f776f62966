"""Calibrating the model to one firm's figures, with the uncertainty that remains.

``targets`` reads and checks what the firm observed; ``priors`` holds what we believe
before (and the documented default set of constants to fit); ``model`` turns parameter
values into the targets' statistics; ``sampler`` makes pyabc's sampling independent of
where it runs; ``fit`` runs ABC-SMC resumably and writes the results; ``report`` draws
them. docs/calibration.md walks through a worked example. Importing this package
imports neither pyabc nor numba: ``calibrate`` does, when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Calibration", "calibrate", "load_posterior", "load_targets"]

if TYPE_CHECKING:
    from serviceprofit.calibration.fit import Calibration, calibrate, load_posterior
    from serviceprofit.calibration.targets import load_targets


def __getattr__(name: str) -> Any:
    if name in ("Calibration", "calibrate", "load_posterior"):
        from serviceprofit.calibration import fit

        return getattr(fit, name)
    if name == "load_targets":
        from serviceprofit.calibration.targets import load_targets

        return load_targets
    raise AttributeError(name)
