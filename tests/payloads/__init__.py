"""The integrations' payloads: each vendor's seed examples and real-world bodies, verbatim,
and loaders for the captured deliveries under tests/fixtures/.

One module per integration (periscope, devgrid, hivel, opslevel, github, gitlab, pagerduty);
test modules import from here, never from each other.
"""

# Bodies no integration can read, and the reason the vendor-shaped integrations (DevGrid,
# Hivel, OpsLevel) give for each, in their own error shape.
BAD_BODIES = [
    (b"not json", "body is not valid JSON"),
    (b"[]", "body must be a JSON object"),
    (b"\xff", "body is not valid UTF-8"),
    (b"", "body is not valid JSON"),
]
TOO_LARGE = "Request body exceeds 1048576 bytes"
