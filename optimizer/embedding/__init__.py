"""Fitted scikit-learn regressors as Pyomo constraints (linear, trees and ensembles, ReLU MLPs, pipelines)."""

from optimizer.embedding.api import SUPPORTED_ESTIMATORS, PredictorHandle, add_predictor_constr, add_predictors_constr
from optimizer.embedding.errors import UnsupportedEstimatorError

__all__ = ["SUPPORTED_ESTIMATORS", "PredictorHandle", "UnsupportedEstimatorError", "add_predictor_constr",
           "add_predictors_constr"]
