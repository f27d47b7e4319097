"""The admin index links to the DORA dashboard (metrics/dashboard.py), and so does the
admin's "View site" link: Periscope has no public site."""

from django.contrib import admin
from django.urls import reverse_lazy

admin.site.index_template = "admin/metrics/index.html"
admin.site.site_url = reverse_lazy("dora-dashboard")
# The lists need the width: with few apps, the index and the breadcrumbs navigate well enough.
admin.site.enable_nav_sidebar = False
