"""The heat-by-heat advisor: stage decisions on arrival and after every sample (see ``advisor``)."""

from optimizer.advisor.advisor import Advisor
from optimizer.advisor.build import advisor_from_history
from optimizer.advisor.support import GradeSupport, Support, history_support

__all__ = ["Advisor", "GradeSupport", "Support", "advisor_from_history", "history_support"]
