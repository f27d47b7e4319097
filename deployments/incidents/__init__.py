"""Incidents: recording them exactly once with their delivery log, attributing each to the
deployment that caused it (recorder.py); their admin and list API."""
