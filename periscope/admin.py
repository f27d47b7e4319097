from django import forms
from django.contrib import admin, messages

from periscope.keys import issue_api_key, revoke_api_key
from periscope.models import ApiKey, Membership, Organization, Scope
from periscope.tenancy import ensure_organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        organization, _ = ensure_organization(slug=obj.slug, name=obj.name)
        obj.pk = organization.pk


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["user__username", "organization__slug"]
    autocomplete_fields = ["organization"]


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=list(Scope.values)
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes"]


@admin.action(description="Revoke selected keys")
def revoke_keys(modeladmin, request, queryset):
    revoked = sum(revoke_api_key(api_key=key) for key in queryset)
    modeladmin.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
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
    ]
    list_filter = ["organization", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at", "expires_at"]
    actions = [revoke_keys]

    def get_readonly_fields(self, request, obj=None):
        # A key's organization and scopes are fixed once issued; rotate to change them.
        return [*self.readonly_fields, "organization", "scopes"] if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "scopes"]
        return ["organization", "name", "scopes", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = issue_api_key(
            organization=obj.organization, name=obj.name, scopes=form.cleaned_data["scopes"]
        )
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        messages.warning(request, f"New API key (shown once, copy it now): {issued.plaintext}")

    def has_delete_permission(self, request, obj=None):
        return False
