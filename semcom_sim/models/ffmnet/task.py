"""The ``detseg`` task now lives with every other task in :mod:`semcom_sim.tasks`."""

from semcom_sim.tasks import DETSEG_METRIC_KEYS as METRIC_KEYS
from semcom_sim.tasks import DetSegMetrics, DetSegTask

__all__ = ["METRIC_KEYS", "DetSegMetrics", "DetSegTask"]
