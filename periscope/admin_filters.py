"""List filters shared by Periscope's admins."""

from django.contrib import admin


class ValuesListFilter(admin.AllValuesFieldListFilter):
    """Django's filter over a column's values, with the empty value named: its link would
    otherwise have no text (invisible, and unnamed for a screen reader)."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice = {**choice, "display": "(none)"}
            yield choice
