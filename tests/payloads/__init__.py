"""The integrations' payloads: each vendor's seed examples and real-world bodies, verbatim,
and loaders for the captured deliveries under tests/fixtures/.

One module per integration (periscope, devgrid, hivel, opslevel, github, gitlab, pagerduty);
test modules import from here, never from each other.
"""
