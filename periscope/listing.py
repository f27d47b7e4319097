"""The read API's lists and details: cursor pages, the organization scope, and the filter
fields every list shares."""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from rest_framework.pagination import CursorPagination


class CursorPage(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-id"


class OrganizationScoped:
    """Lists and details over the request key's organization only (others' ids are 404)."""

    pagination_class = CursorPage
    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no key
            return self.model.objects.none()
        return self.model.objects.filter(organization=self.request.auth.organization)


class UtcDateTimeField(IsoDateTimeField):
    """ISO 8601, compared in UTC: PostgreSQL refuses offsets past 15:59 ("-20:53" is valid
    ISO 8601), and a year-1 time with an offset overflows on SQLite."""

    def to_python(self, value):
        try:
            moment = super().to_python(value)
            return None if moment is None else moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a date/time within range.", code="invalid") from None


class MomentFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IdFilter(django_filters.NumberFilter):
    """A whole number (NumberFilter takes decimals, which SQLite cannot compare when huge)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        # Ids are 64-bit: SQLite overflows on a larger number instead of matching nothing.
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)
