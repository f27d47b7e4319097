"""The tree's rules, checked: imports run one way (periscope ← services ← deployments ←
metrics ← demo), and every integration has its folder with its adapter, view and schema."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("periscope", "services", "deployments", "metrics", "demo")
# The composition root names every app's endpoints and settings.
COMPOSITION = {"periscope/urls.py", "periscope/settings.py"}
# Known places where a lower layer reaches up, each with its reason (docs/architecture.md).
EXCEPTIONS = {
    # A catalog change (alias, accepted suggestion, deleted service) re-attributes deployments.
    ("services/catalog.py", "deployments"),
    # The catalog admin shows each service's deployments and the suggestions' counts.
    ("services/admin.py", "deployments"),
    # A new organization starts with the default environment aliases.
    ("periscope/tenancy.py", "deployments"),
}
INTEGRATIONS = ("periscope", "devgrid", "hivel", "opslevel", "github", "gitlab", "pagerduty",
                "incidents")  # fmt: skip


def imports(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, node.lineno))
    return found


def test_imports_run_one_way():
    upward = []
    for layer, app in enumerate(LAYERS):
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in COMPOSITION:
                continue
            for module, line in imports(path):
                top = module.split(".")[0]
                reaches_up = top in LAYERS and LAYERS.index(top) > layer
                if reaches_up and (relative, top) not in EXCEPTIONS:
                    upward.append(f"{relative}:{line} imports {module}")
    assert not upward, "imports against the layers (periscope ← services ← deployments ← " + (
        "metrics ← demo):\n" + "\n".join(upward)
    )


def test_every_exception_is_still_needed():
    for relative, top in EXCEPTIONS:
        modules = [module.split(".")[0] for module, _ in imports(ROOT / relative)]
        assert top in modules, f"{relative} no longer imports {top}: drop the exception"


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_every_integration_has_its_folder(integration):
    folder = ROOT / "deployments" / "ingest" / integration
    assert (folder / "adapter.py").is_file() and (folder / "view.py").is_file()
    assert (folder / "__init__.py").read_text().strip(), "say what the integration is"
