"""Builds the provider's database: `python -m tests.oidc_provider.prepare SPEC_JSON`.

SPEC_JSON: {"client_id", "client_secret", "redirect_uris": [...],
            "users": [{"username", "password", "email", "groups": [...]}]}
"""

import json
import sys

import django


def main(spec: dict) -> None:
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oidc_provider.models import Client, ResponseType

    call_command("migrate", verbosity=0, interactive=False)
    call_command("creatersakey", verbosity=0)
    for person in spec["users"]:
        user = User.objects.create_user(
            person["username"],
            email=person["email"],
            password=person["password"],
            first_name=person.get("first_name", ""),
            last_name=person.get("last_name", ""),
        )
        for name in person["groups"]:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = Client.objects.create(
        name="Periscope",
        client_type="confidential",
        client_id=spec["client_id"],
        client_secret=spec["client_secret"],
        jwt_alg="RS256",
        require_consent=False,
        reuse_consent=False,
    )
    client.redirect_uris = spec["redirect_uris"]
    client.save()
    client.response_types.add(ResponseType.objects.get(value="code"))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
