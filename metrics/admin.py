"""The admin index links to the DORA dashboard (metrics/dashboard.py)."""

from django.contrib import admin

admin.site.index_template = "admin/metrics/index.html"
