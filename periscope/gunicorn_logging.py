"""gunicorn's logger with Periscope's redaction on its error and access logs.

Configured by `logger_class` in periscope/gunicorn_conf.py. gunicorn writes the request line
to the access log (`%(r)s`, `%(U)s`) and the URI to the error log when a request fails; an
OpsLevel delivery's URI holds its API key.
"""

from gunicorn.glogging import Logger

from periscope.log_redaction import RedactSecretsFilter


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactSecretsFilter) for f in log.filters):
                log.addFilter(RedactSecretsFilter())
