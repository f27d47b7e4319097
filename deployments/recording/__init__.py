"""Deployments and their delivery log: the one recorder every format calls (recorder.py), the
rule for repeats (repeats.py), the pairing key (service_group.py), recovery times kept on
failures (recovery.py), environment names (environments.py), the history import
(importing.py, bulk_insert.py), and the deployments' admin and list API."""
