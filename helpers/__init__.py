"""The instrumented helper package behind the course notebooks.

Each lesson calls one experiment from ``helpers.experiments``; every experiment runs its
workloads under ``measure()`` and returns a Result that shows a table and draws charts.
Importing this package has no side effects: no data, no rcParams, no processes.
"""

from .events import TaskEvent, recorded, task
from .machine import Fingerprint, fingerprint, mp_context, start_method, usable_cores
from .probes import Measurement, measure

__all__ = [
    "Fingerprint",
    "Measurement",
    "TaskEvent",
    "fingerprint",
    "measure",
    "mp_context",
    "recorded",
    "start_method",
    "task",
    "usable_cores",
]
