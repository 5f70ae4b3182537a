"""Fitted scikit-learn regressors as Pyomo constraints (linear, trees and ensembles, ReLU MLPs, pipelines), equal to
their ``predict`` at every solution (checked by ``verify``)."""

from optimizer.embedding.api import PredictorHandle, add_predictor_constr, add_predictors_constr
from optimizer.embedding.errors import UnsupportedEstimatorError
from optimizer.embedding.registry import SUPPORTED_ESTIMATORS, Embedded, register_predictor
from optimizer.embedding.splits import SOLVER_OPTIONS
from optimizer.embedding.verify import Mismatch, ModelCheck, check_solution, repair, verify

__all__ = ["SOLVER_OPTIONS", "SUPPORTED_ESTIMATORS", "Embedded", "Mismatch", "ModelCheck", "PredictorHandle",
           "UnsupportedEstimatorError", "add_predictor_constr", "add_predictors_constr", "check_solution",
           "register_predictor",
           "repair", "verify"]
