"""A notification carries the detector's summary in its recipient's language: the
Chinese reader gets the Chinese message, the English reader the English one, from the
same ticket event through the real dispatcher to a local WeCom stand-in."""

from __future__ import annotations

import json

from contract.finding import Finding
from detectors.elevator_entrapment import EntrapmentDetector
from quality.i18n.summaries import summary_labels
from tests.detectors.test_contract_all_detectors import SPECS, run
from tests.quality.delivery.notify_setup import Notify
from tests.quality.delivery.test_notify_routing import inbox, notify

__all__ = ["inbox", "notify"]  # the routing tests' fixtures: a real database, SMTP, clock


def entrapment_finding() -> Finding:
    """The entrapment detector's own finding, from the series that makes it fire."""
    _, finding = run(EntrapmentDetector, SPECS[EntrapmentDetector].fault())[0]
    return finding


def test_each_recipient_reads_the_summary_in_their_language(notify: Notify) -> None:
    wecom, _ = notify.wecom()
    notify.rule(
        {"name": "lifts", "channels": ["wecom"], "match": {"kinds": ["elevator"]},
         "recipients": [{"name": "王工", "language": "zh-CN"}, {"name": "Lee", "language": "en"}]}
    )  # fmt: skip
    finding = entrapment_finding()
    labels = summary_labels(finding.summary_key, finding.summary_params, finding.summary)
    assert labels["zh-CN"].startswith("轿厢停在两层之间")
    notify.tickets.record(finding)
    notify.run()
    contents = [json.dumps(s.body, ensure_ascii=False) for s in wecom.accepted()]
    chinese = [c for c in contents if "新工单" in c]
    english = [c for c in contents if "New ticket" in c]
    assert len(chinese) == 1 and len(english) == 1
    assert labels["zh-CN"] in chinese[0] and finding.summary not in chinese[0]
    assert labels["en"] in english[0]
