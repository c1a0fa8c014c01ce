"""What a ticket's evidence says, made readable: each field's kind (a time, a duration, a
value in the metric's unit ...) for labelled display, and the chart around the onset
(the span to read, threshold and baseline lines, the verification window, the projected
crossing of a predictive finding) from what the detector stored.

Labels live in the catalog (`quality/i18n/catalog/evidence.yaml`, keys
`evidence.field.<key>`, `evidence.metric.<metric>`, `evidence.unit.<unit>`).
"""

from quality.evidence.chart import ChartPlan, Line, Projection, VerificationSpan, plan_chart
from quality.evidence.fields import FIELD_KINDS, EvidenceField, describe, evidence_keys

__all__ = [
    "FIELD_KINDS",
    "ChartPlan",
    "EvidenceField",
    "Line",
    "Projection",
    "VerificationSpan",
    "describe",
    "evidence_keys",
    "plan_chart",
]
