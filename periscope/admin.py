from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.template.response import TemplateResponse
from django.utils import timezone

from periscope.admin_scoping import OrganizationScopedAdmin, SameOrganizationForm
from periscope.keys import active_keys, issue_api_key, revoke_api_key, rotate_api_key
from periscope.models import ApiKey, Membership, Organization, Scope, WebhookSecret
from periscope.secrets import masked
from periscope.tenancy import ensure_organization

admin.site.site_header = "Periscope"
admin.site.site_title = "Periscope admin"
admin.site.index_title = "Deployment catalog"


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["slug", "name", "default_environment", "detect_rollbacks"]

    def clean_default_environment(self):
        # Stored the way canonical environment names are (trimmed, lower case).
        value = self.cleaned_data["default_environment"].strip().lower()
        if not value:
            raise forms.ValidationError("Name an environment, e.g. production.")
        return value


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    form = OrganizationForm
    list_display = ["slug", "name", "default_environment", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request):
        # A new organization has no members yet: only a superuser could see it.
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        organization, _ = ensure_organization(slug=obj.slug, name=obj.name)
        obj.pk = organization.pk


@admin.register(Membership)
class MembershipAdmin(OrganizationScopedAdmin):
    list_display = ["user", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["user__username", "organization__slug"]
    autocomplete_fields = ["organization"]


class ApiKeyForm(SameOrganizationForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=list(Scope.values)
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes"]


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        label="Grace period (hours)",
        min_value=0,
        max_value=24 * 90,
        initial=24,
        help_text="How long the old key keeps working. 0 stops it now.",
    )


def _render_issued(request, modeladmin, *, issued: list, title: str, note: str = ""):
    """The one page that shows new plaintext keys; it is not stored anywhere to show again."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "issued": issued,
        "note": note,
    }
    response = TemplateResponse(request, "admin/periscope/apikey/issued.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "organization",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
        "expires_at",
        "state",
    ]
    list_filter = ["organization", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at", "expires_at"]
    actions = ["revoke_keys", "rotate_keys"]

    def get_readonly_fields(self, request, obj=None):
        # A key's organization and scopes are fixed once issued; rotate to change them.
        return [*self.readonly_fields, "organization", "scopes"] if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "scopes"]
        return ["organization", "name", "scopes", *self.readonly_fields]

    @admin.display(description="state")
    def state(self, obj) -> str:
        now = timezone.now()
        if obj.revoked_at:
            return "revoked"
        if obj.expires_at and obj.expires_at <= now:
            return "expired"
        if obj.expires_at:
            return "rotated, in grace period"
        return "active"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = issue_api_key(
            organization=obj.organization, name=obj.name, scopes=form.cleaned_data["scopes"]
        )
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj._issued = issued

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(obj, "_issued", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return _render_issued(request, self, issued=[issued], title="API key created")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset):
        revoked = sum(revoke_api_key(api_key=key) for key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)

    @admin.action(description="Rotate selected keys (choose a grace period)")
    def rotate_keys(self, request, queryset):
        keys = list(active_keys().filter(pk__in=queryset).select_related("organization"))
        if not keys:
            self.message_user(request, "Revoked or expired keys cannot be rotated.", messages.ERROR)
            return None
        form = RotateForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            grace = timedelta(hours=form.cleaned_data["grace_hours"])
            issued = [rotate_api_key(api_key=key, grace=grace) for key in keys]
            until = timezone.now() + grace
            return _render_issued(
                request,
                self,
                issued=issued,
                title=f"Rotated {len(issued)} key(s)",
                note=f"The old keys keep working until {until:%Y-%m-%d %H:%M} UTC.",
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Rotate API keys",
            "opts": self.model._meta,
            "keys": keys,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/periscope/apikey/rotate.html", context)


class WebhookSecretForm(SameOrganizationForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Never shown again. Leave empty to keep the current secret.",
    )

    class Meta:
        model = WebhookSecret
        fields = ["organization", "provider", "secret"]

    def clean_secret(self):
        secret = self.cleaned_data.get("secret", "")
        if not secret and self.instance.pk:
            return self.instance.secret
        if not secret:
            raise forms.ValidationError("Enter the secret the provider signs its webhooks with.")
        return secret


@admin.register(WebhookSecret)
class WebhookSecretAdmin(OrganizationScopedAdmin):
    form = WebhookSecretForm
    list_display = ["organization", "provider", "masked_secret", "updated_at"]
    list_filter = ["organization", "provider"]
    readonly_fields = ["masked_secret", "updated_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "provider", "secret"]
        return ["organization", "provider", "masked_secret", "secret", "updated_at"]

    @admin.display(description="current secret")
    def masked_secret(self, obj) -> str:
        return masked(obj.secret) if obj and obj.secret else "—"


# Logins and groups are managed by superusers only: a staff member who could edit users
# could make themselves a superuser or a member of any organization.
class SuperuserOnly:
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


User = get_user_model()
for model, base in ((User, UserAdmin), (Group, GroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(f"Periscope{base.__name__}", (SuperuserOnly, base), {}))
