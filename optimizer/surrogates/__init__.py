"""Surrogate models learned from historical heats: structures linear in the decisions given the context,
calibrated intervals by number of samples, and the applicability domain."""

from optimizer.surrogates.conformal import SampleWidths
from optimizer.surrogates.domain import ApplicabilityDomain
from optimizer.surrogates.prior import prior_surrogates
from optimizer.surrogates.surrogate import OutcomeSurrogate, SurrogateSet
from optimizer.surrogates.train import TrainingReport, constrained_outcomes, train_surrogates

__all__ = ["ApplicabilityDomain", "OutcomeSurrogate", "SampleWidths", "SurrogateSet", "TrainingReport",
           "constrained_outcomes", "prior_surrogates", "train_surrogates"]
