"""The read API's one convention: camelCase keys in answers and in filter parameters.

Answers are renamed by djangorestframework-camel-case's renderer (the default renderer, see
settings); the vendor formats answer through plain JSON renderers in their own words. Filter
parameters are declared with the model's snake_case names and published camelCased here, so
the filters, their 400 messages and the OpenAPI schema all say `completedAfter`; the
snake_case spelling of the first API version is still read.
"""

import re

import django_filters
from django_filters.filterset import FilterSetMetaclass
from djangorestframework_camel_case.util import camelize_re, underscore_to_camel


def camel(name: str) -> str:
    return re.sub(camelize_re, underscore_to_camel, name)


class _CamelCaseFilterSetMetaclass(FilterSetMetaclass):
    def __new__(mcs, name, bases, attrs):
        new_class = super().__new__(mcs, name, bases, attrs)
        # field_name (the model field, or the method's `name`) keeps its snake_case spelling.
        new_class.base_filters = {camel(key): f for key, f in new_class.base_filters.items()}
        return new_class


class CamelCaseFilterSet(django_filters.FilterSet, metaclass=_CamelCaseFilterSetMetaclass):
    """A FilterSet whose parameters are camelCase; `completed_after` is read as
    `completedAfter` unless both are given (then the camelCase one wins)."""

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            for key in list(data.keys()):
                renamed = camel(key)
                if renamed != key and renamed in self.base_filters and renamed not in data:
                    data.setlist(renamed, data.getlist(key))
        super().__init__(data, *args, **kwargs)
