"""Errors of the embedding package."""

from __future__ import annotations


class UnsupportedEstimatorError(TypeError):
    """The estimator (or a pipeline step) cannot be embedded; the message lists what can."""
