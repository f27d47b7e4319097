import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
application = get_wsgi_application()

# Requests' statements are cancelled after DB_STATEMENT_TIMEOUT (PostgreSQL); commands are not.
from periscope.statement_timeout import limit_request_statements  # noqa: E402

limit_request_statements()
