"""The DORA dashboard in the admin: /admin/metrics/dora/.

Thin: the query string is read by the API's own `parse_dora_query`, every number comes from
`metrics.dora` (the functions behind /api/metrics/dora), and this module only formats them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Min
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from deployments.models import Deployment
from deployments.recording import new_environments, new_names
from metrics import dora
from metrics.api import parse_dora_query
from metrics.charts import Marker, chart
from periscope.admin_scoping import allowed_organization_ids
from periscope.errors import InvalidPayload
from periscope.models import Organization
from services.models import Service, ServiceSuggestion, SuggestionStatus

PRESETS = (7, 30, 90, 365)
DEFAULT_PRESET = "30"


# --- formatting ------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f} %"


def per_day(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}/day"


@dataclass(frozen=True, kw_only=True)
class Tile:
    key: str  # the API's summary key
    label: str
    value: float | None  # the API's headline number for this metric
    display: str
    detail: str
    level: str | None
    change: str
    better: bool | None  # did it move the good way?


def _change(current: float | None, previous: float | None, *, higher_is_better: bool, days: int):
    if current is None or previous is None:
        return f"no data to compare with the previous {days} days", None
    if previous == current:
        return f"unchanged vs previous {days} days", None
    if previous == 0:
        arrow = "▲"
        text = f"{arrow} from 0 vs previous {days} days"
    else:
        delta = (current - previous) / abs(previous) * 100
        arrow = "▲" if delta > 0 else "▼"
        text = f"{arrow} {abs(delta):.0f}% vs previous {days} days"
    return text, (current > previous) == higher_is_better


def tiles(summary: dora.DoraMetrics, previous: dora.DoraMetrics, *, days: int) -> list[Tile]:
    f, pf = summary.deployment_frequency, previous.deployment_frequency
    lt, plt = summary.lead_time, previous.lead_time
    cfr, pcfr = summary.change_failure_rate, previous.change_failure_rate
    rec, prec = summary.failed_deployment_recovery_time, previous.failed_deployment_recovery_time
    rw, prw = summary.rework_rate, previous.rework_rate
    pairs = [
        (
            "deploymentFrequency",
            "Deployment frequency",
            f.per_day,
            pf.per_day if pf.deployments or f.deployments else None,
            per_day(f.per_day),
            f"{f.deployments} deployments on {f.deployment_days} days",
            f.level,
            True,
        ),
        (
            "leadTime",
            "Lead time for changes",
            lt.median_seconds,
            plt.median_seconds,
            duration(lt.median_seconds),
            f"median of {lt.changes} changes" if lt.changes else "no changes with a known start",
            lt.level,
            False,
        ),
        (
            "changeFailureRate",
            "Change failure rate",
            cfr.rate,
            pcfr.rate,
            percent(cfr.rate),
            f"{cfr.failed + cfr.rolled_back + cfr.incident_caused} of {cfr.total} deployments",
            cfr.level,
            False,
        ),
        (
            "failedDeploymentRecoveryTime",
            "Failed deployment recovery",
            rec.median_seconds,
            prec.median_seconds,
            duration(rec.median_seconds),
            f"median of {rec.recovered} recovered, {rec.open} not yet",
            rec.level,
            False,
        ),
        (
            "reworkRate",
            "Deployment rework rate",
            rw.rate,
            prw.rate,
            percent(rw.rate),
            f"{rw.rework} of {rw.total} deployments were rework",
            rw.level,
            False,
        ),
    ]
    result = []
    for key, label, value, before, display, detail, level, higher in pairs:
        change, better = _change(value, before, higher_is_better=higher, days=days)
        result.append(
            Tile(
                key=key,
                label=label,
                value=value,
                display=display,
                detail=detail,
                level=level,
                change=change,
                better=better,
            )
        )
    return result


def _label(moment: datetime, interval: str) -> str:
    return moment.strftime("%b %Y" if interval == "month" else "%b %d")


def _hours(seconds: float | None) -> float | None:
    # Durations are charted in hours so that the axis gets round numbers of hours.
    return None if seconds is None else seconds / 3600


def hours_axis(values: list[float | None]) -> Callable[[float], str]:
    """A formatter of hours in one unit for a whole chart, chosen by its largest value: an
    axis that reads "2.1 d" above "25.0 h" makes the reader convert."""
    largest = max((v for v in values if v is not None), default=0.0)
    if largest < 1:
        unit, per_hour = "min", 60.0
    elif largest < 48:
        unit, per_hour = "h", 1.0
    else:
        unit, per_hour = "d", 1 / 24

    def fmt(hours: float) -> str:
        return "0" if hours == 0 else f"{round(hours * per_hour, 1):g} {unit}"

    return fmt


def charts(series: list[dora.DoraMetrics], *, interval: str) -> list[dict]:
    labels = [_label(m.start, interval) for m in series]
    cfr = [m.change_failure_rate for m in series]
    return [
        {
            "title": "Deployments",
            "svg": chart(
                kind="bar",
                title="Deployments per " + interval,
                labels=labels,
                values=[m.deployment_frequency.deployments for m in series],
                fmt=lambda v: f"{v:g}",
                markers=[
                    Marker(
                        css="marker-failure",
                        label="failed or rolled back",
                        counts=[c.failed + c.rolled_back for c in cfr],
                    ),
                    Marker(
                        css="marker-incident",
                        label="caused an incident",
                        counts=[c.incident_caused for c in cfr],
                    ),
                ],
            ),
            "legend": True,
        },
        {
            "title": "Lead time for changes (median)",
            "svg": chart(
                kind="line",
                title="Median lead time per " + interval,
                labels=labels,
                values=(lead := [_hours(m.lead_time.median_seconds) for m in series]),
                fmt=hours_axis(lead),
            ),
        },
        {
            "title": "Change failure rate",
            "svg": chart(
                kind="line",
                title="Change failure rate per " + interval,
                labels=labels,
                values=[c.rate for c in cfr],
                fmt=lambda v: f"{round(v * 100, 1):g} %",
            ),
        },
        {
            "title": "Failed deployment recovery (median)",
            "svg": chart(
                kind="line",
                title="Median recovery time per " + interval,
                labels=labels,
                values=(
                    recovery := [
                        _hours(m.failed_deployment_recovery_time.median_seconds) for m in series
                    ]
                ),
                fmt=hours_axis(recovery),
            ),
        },
        {
            "title": "Deployment rework rate",
            "svg": chart(
                kind="line",
                title="Deployment rework rate per " + interval,
                labels=labels,
                values=[m.rework_rate.rate for m in series],
                fmt=lambda v: f"{round(v * 100, 1):g} %",
            ),
        },
    ]


# --- the query -------------------------------------------------------------------------


def _tomorrow() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def api_params(query) -> dict:
    """The dashboard's query string as /api/metrics/dora parameters.

    `range` is a preset number of days ending at the next UTC midnight (the API's default
    end), or "custom" with `from` and an inclusive `to` day.
    """
    preset = query.get("range") or DEFAULT_PRESET
    params = {
        "environment": query.get("environment") or "production",
        "service": query.get("service") or "",
        "team": query.get("team") or "",
    }
    if preset == "custom":
        raw_to = (query.get("to") or "").strip()
        params["from"] = (query.get("from") or "").strip()
        if not params["from"]:
            raise InvalidPayload("from is required for a custom range", field="from")
        if raw_to:
            try:
                params["to"] = (date.fromisoformat(raw_to) + timedelta(days=1)).isoformat()
            except ValueError:
                raise InvalidPayload("to must be a date (YYYY-MM-DD)", field="to") from None
        days = None
    elif preset.isdigit() and int(preset) in PRESETS:
        end = _tomorrow()
        # UTC as "Z": the query printed under the filters reads as typed and copies as is.
        params["to"] = f"{end:%Y-%m-%dT%H:%M:%SZ}"
        params["from"] = f"{end - timedelta(days=int(preset)):%Y-%m-%dT%H:%M:%SZ}"
        days = int(preset)
    else:
        raise InvalidPayload(
            f"range must be one of: {', '.join(map(str, PRESETS))}, custom", field="range"
        )
    interval = query.get("interval") or ""
    if not interval:
        interval = "day" if days is not None and days <= 31 else "week"
    params["interval"] = interval
    return params


def data_since(*, organization: Organization, environment: str, start: datetime) -> date | None:
    """The day of the organization's first deployment in the environment when a range
    starting at `start` starts before that day, else None. One descent of the
    (organization, environment, completed_at) index."""
    first = Deployment.objects.filter(
        organization=organization, environment=environment, completed_at__isnull=False
    ).aggregate(first=Min("completed_at"))["first"]
    if first is None or first.date() <= start.date():
        return None
    return first.date()


# --- the view --------------------------------------------------------------------------


def _organizations(request):
    organizations = Organization.objects.order_by("slug")
    allowed = allowed_organization_ids(request)
    return organizations if allowed is None else organizations.filter(pk__in=allowed)


def _environments(organization: Organization, current: str, deployed: dict[str, int]) -> list[str]:
    """Every environment the organization has deployments in (`deployed`, from the rollups),
    its default, production and the one shown."""
    names = set(deployed) | {"production", organization.default_environment, current}
    return sorted(names - {""})


def _deployments_url(
    organization: Organization, row: dora.ServiceDora, environment: str, *, changelist: str
) -> str:
    """The deployments changelist (`changelist`, reversed once per page) of the row."""
    query = {"organization__id__exact": organization.pk, "environment": environment}
    if row.service_id is not None:
        query["service__id__exact"] = row.service_id
    else:
        query["q"] = row.name
    return changelist + "?" + urlencode(query)


def _badge(level: str | None) -> SafeString:
    if not level:
        return mark_safe("")
    return format_html('<span class="dora-badge level-{}">{}</span>', level, level)


def _number(value) -> str:
    """A number as the template prints it (localized), None as nothing."""
    return "" if value is None else localize(value)


def service_row(row: dora.ServiceDora, *, url: str) -> SafeString:
    """One row of the services table, the markup the template's loop used to print: 100 rows
    of 30 template lookups each took 15 of the page's 21 ms of rendering."""
    frequency, lead = row.deployment_frequency, row.lead_time
    cfr, recovery = row.change_failure_rate, row.failed_deployment_recovery_time
    return format_html(
        "\n    <tr>\n"
        '      <td data-value="{}"><a href="{}">{}</a>{}</td>\n'
        '      <td data-value="{}">{}</td>\n'
        '      <td data-value="{}">{}</td>\n'
        '      <td data-value="{}">{} {}</td>\n'
        '      <td data-value="{}">{} {}</td>\n'
        '      <td data-value="{}">{} {}</td>\n'
        '      <td data-value="{}">{} {}</td>\n'
        '      <td data-value="{}">{}</td>\n'
        "    </tr>\n  ",
        row.name.lower(),
        url,
        row.name,
        mark_safe(' <span class="dora-unmatched">unmatched</span>')
        if row.service_id is None
        else "",
        row.team.lower(),
        row.team,
        _number(frequency.deployments),
        _number(frequency.deployments),
        repr(frequency.per_day),
        per_day(frequency.per_day),
        _badge(frequency.level),
        _number(lead.median_seconds),
        duration(lead.median_seconds),
        _badge(lead.level),
        _number(cfr.rate),
        percent(cfr.rate),
        _badge(cfr.level),
        _number(recovery.median_seconds),
        duration(recovery.median_seconds),
        _badge(recovery.level),
        _number(row.rework_rate.rate),
        percent(row.rework_rate.rate),
    )


def _row(row: dora.ServiceDora, *, url: str) -> dict:
    return {"item": row, "url": url, "html": service_row(row, url=url)}


def dashboard_view(request):
    # One query for the chooser and the chosen organization.
    organizations = list(_organizations(request))
    slug = request.GET.get("org")
    if slug:
        organization = next((o for o in organizations if o.slug == slug), None)
    else:
        organization = organizations[0] if organizations else None
    context = {
        **admin.site.each_context(request),
        "title": "DORA dashboard",
        "organizations": organizations,
        "organization": organization,
        "presets": PRESETS,
        "query": request.GET,
        "range": request.GET.get("range") or DEFAULT_PRESET,
    }
    if organization is None:
        if slug:
            raise Http404("No such organization.")
        return TemplateResponse(request, "admin/metrics/dashboard.html", context)
    # One query for the service chooser and the teams.
    services = list(
        Service.objects.filter(organization=organization).order_by("name").only("name", "team")
    )
    context.update(services=services, teams=sorted({s.team for s in services if s.team}))
    try:
        params = api_params(request.GET)
        scope, interval, echoed = parse_dora_query(params=params, organization=organization)
    except InvalidPayload as exc:
        context.update(error=exc.message, error_field=exc.field, environments=["production"])
        return TemplateResponse(request, "admin/metrics/dashboard.html", context, status=400)

    # A range that starts before the first deployment is measured from it: its empty weeks
    # would otherwise count in the levels (a weekly median of mostly zeros). The printed API
    # query says the same range, so the numbers stay the API's.
    chosen_from = None
    since = data_since(organization=organization, environment=scope.environment, start=scope.start)
    if since is not None and datetime(since.year, since.month, since.day, tzinfo=UTC) < scope.end:
        chosen_from = scope.start
        params = {**params, "from": f"{since:%Y-%m-%d}T00:00:00Z"}
        scope, interval, echoed = parse_dora_query(params=params, organization=organization)
    length = scope.end - scope.start
    days = max(round(length.total_seconds() / 86400), 1)
    report = dora.dora_report(scope=scope, interval=interval, previous=True)
    by_service = dora.dora_by_service(scope=scope)
    changelist = reverse("admin:deployments_deployment_changelist")

    def url_of(row: dora.ServiceDora) -> str:
        return _deployments_url(organization, row, scope.environment, changelist=changelist)

    deployed = new_environments.deployed_environments(organization_id=organization.pk)
    unnamed = new_environments.new_environments(organization=organization, deployed=deployed)
    context.update(
        scope=scope,
        interval=interval,
        environment=scope.environment,
        environments=_environments(organization, scope.environment, deployed),
        new_environments=sorted(unnamed.items()),
        alias_targets=new_environments.alias_targets(
            organization=organization, deployed=deployed, new=unnamed
        ),
        api_query=urlencode({k: v for k, v in params.items() if v}),
        # Printed for a person: the times' colons as typed (still a valid query string).
        api_query_readable=urlencode({k: v for k, v in params.items() if v}, safe=":"),
        chosen_from=chosen_from,
        range_from=scope.start,
        range_to=scope.end,
        range_to_inclusive=scope.end - timedelta(microseconds=1),
        days=days,
        benchmarks=report.benchmarks,
        tiles=tiles(report.summary, report.previous, days=days),
        charts=charts(report.series, interval=interval),
        rows=[_row(row, url=url_of(row)) for row in by_service],
        open_suggestions=ServiceSuggestion.objects.filter(
            organization=organization, status=SuggestionStatus.OPEN
        ).count(),
        suggestions_url=reverse("admin:services_servicesuggestion_changelist")
        + "?"
        + urlencode({"status__exact": "open", "organization__id__exact": organization.pk}),
        new_names_today=new_names.new_names_today(organization_id=organization.pk),
        new_names_cap=new_names.daily_cap(),
        unrecovered=dora.unrecovered_failures(scope=scope),
        open_incidents=dora.open_incidents(scope=scope),
    )
    return TemplateResponse(request, "admin/metrics/dashboard.html", context)


# Staff login (redirects to the admin's login page), no caching, CSRF like every admin view.
dashboard = admin.site.admin_view(dashboard_view)
