"""Replay recorded telemetry through the production detector bank and ticket policy.

A user runs it to tune thresholds before go-live, and the project runs it to judge its
detectors on real recordings: the same decoder, the same detectors and the same ticket
store as the service, with a clock that reads data time instead of wall time.
"""
