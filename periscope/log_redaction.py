"""Keep API keys out of every log line Periscope and its servers write.

Keys travel in headers, which no log of ours records, except for the OpsLevel format, whose
key is the last segment of the URL (`/integrations/deploy/<key>`). Any line that may carry a
request path (gunicorn's access and error logs, Django's `django.request` on 4xx/5xx, the
development server) goes through `redact()`, which replaces that segment, and anything
shaped like a key elsewhere in the line, with `[redacted]`.
"""

import logging
import re

REDACTED = "[redacted]"

# The segment after /integrations/deploy/, whatever it holds (a key, a typo, a percent-encoded
# key): up to the query string, a space (the end of a request line) or a quote.
_OPSLEVEL_SEGMENT = re.compile(r"(integrations/+deploy/+)[^\s?#\"']+", re.IGNORECASE)
# A key anywhere else (a query string, a Referer header): the format prefix and its secret.
_KEY_ANYWHERE = re.compile(r"(psk_)[A-Za-z0-9]{4,}")


def redact(text: str) -> str:
    """`text` with every key-bearing URL segment and key-shaped string redacted."""
    text = _OPSLEVEL_SEGMENT.sub(rf"\g<1>{REDACTED}", text)
    return _KEY_ANYWHERE.sub(rf"\g<1>{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """A logging filter that redacts the formatted message and any traceback of a record.

    Attach it to handlers (Django's LOGGING) or to loggers that are called directly
    (gunicorn's error and access loggers): filters on a logger do not see records that
    propagate from its children, filters on a handler see everything it writes.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
