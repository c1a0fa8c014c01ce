"""Quality-loop KPIs: computed per period, site, building and kind, written for Grafana.

- `records`: the inputs (period, tickets with history, liveness changes);
- `compute`: the definitions, as pure functions;
- `sources`: reading the inputs from SQL and the series store;
- `job` and `scheduler`: writing the `kpi` and `ticket_events` measurements,
  on demand (`facmon kpi compute`) and every minute in the service;
- `service_metrics`: the service's own metrics as `facmon_service` points;
"""

from quality.kpi.compute import SCOPES, GroupKey, GroupKpis, compute_kpis, device_time
from quality.kpi.job import (
    KPI_MEASUREMENT,
    TICKET_EVENTS_MEASUREMENT,
    KpiJob,
    KpiRun,
    buckets,
    ticket_event_points,
)
from quality.kpi.records import LivenessChange, Period, TicketRecord, Transition
from quality.kpi.scheduler import KpiScheduler
from quality.kpi.service_metrics import ServiceMetricsWriter, metric_fields
from quality.kpi.sources import (
    SERVICE_MEASUREMENT,
    InfluxSignals,
    LagStats,
    ListLiveness,
    LivenessSource,
    SQLiteSignals,
    count_dead_letters,
    load_tickets,
    signals_for,
)

__all__ = [
    "KPI_MEASUREMENT",
    "SCOPES",
    "SERVICE_MEASUREMENT",
    "TICKET_EVENTS_MEASUREMENT",
    "GroupKey",
    "GroupKpis",
    "InfluxSignals",
    "KpiJob",
    "KpiRun",
    "KpiScheduler",
    "LagStats",
    "ListLiveness",
    "LivenessChange",
    "LivenessSource",
    "Period",
    "SQLiteSignals",
    "ServiceMetricsWriter",
    "TicketRecord",
    "Transition",
    "buckets",
    "compute_kpis",
    "count_dead_letters",
    "device_time",
    "load_tickets",
    "metric_fields",
    "signals_for",
    "ticket_event_points",
]
