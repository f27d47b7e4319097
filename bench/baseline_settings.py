"""Settings for the ingest benchmark's server: the product's, plus the baseline views' URLs."""

from periscope.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
