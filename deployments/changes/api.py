"""GET /api/changes and /api/changes/<id> (read scope): pull requests or commits, each with
the lead time of the first production deployment that shipped it."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.changes import listing
from periscope.listing import CursorPage


class ChangeList(APIView):
    """Pull requests (default) or commits (`?kind=commit`), each with the lead time of the
    first production deployment that shipped it."""

    pagination_class = CursorPage

    @extend_schema(
        operation_id="changes_list",
        parameters=[
            OpenApiParameter("kind", str, enum=["pull_request", "commit"]),
            OpenApiParameter("limit", int),
            OpenApiParameter("cursor", str),
        ],
        responses=inline_serializer(
            "ChangePage",
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        kind, queryset, render = _changes(request)
        paginator = CursorPage()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([render(item) for item in page])


class ChangeDetail(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=["pull_request", "commit"])],
        responses=inline_serializer("ChangeItem", {"id": serializers.IntegerField()}),
    )
    def get(self, request, pk: int):
        kind, queryset, render = _changes(request)
        item = queryset.filter(pk=pk).first()
        if item is None:
            raise Http404
        return Response(render(item))


def _changes(request):
    kind = request.query_params.get("kind", "pull_request")
    organization_id = request.auth.organization.pk
    if kind == "pull_request":
        return (
            kind,
            listing.pull_requests(organization_id=organization_id),
            listing.pull_request_json,
        )
    if kind == "commit":
        return kind, listing.commits(organization_id=organization_id), listing.commit_json
    raise ValidationError({"kind": "must be pull_request or commit"})
