"""Reading Backstage catalog files: files, directories, URLs and the Locations they name.

Turns descriptor YAML into validated `Component` entities (and the display names of
`Group`s, which fill teams). Nothing here touches the database; every problem is a
`Skipped` line naming its file, so one bad entity never stops a sync.
"""

import http.client
import re
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

import yaml

# Backstage's own rules (catalog-model's KubernetesValidatorFunctions): a name is 1-63
# characters, alphanumerics separated by single - _ or .
_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
_MAX_BYTES = 5 * 1024 * 1024
_URL_TIMEOUT = 10
_YAML_SUFFIXES = (".yaml", ".yml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class Component:
    """A valid Backstage Component, reduced to what a Periscope service keeps."""

    source: str
    name: str
    namespace: str
    title: str
    owner: str  # the entity ref as written (`group:team-a`), resolved to a team later
    lifecycle: str
    description: str
    repositories: tuple[str, ...]  # first is the service's repository, the rest aliases

    @property
    def ref(self) -> str:
        # Entity refs compare case-insensitively in Backstage.
        return f"component:{self.namespace}/{self.name}".lower()


@dataclass
class Catalog:
    components: list[Component] = field(default_factory=list)
    group_titles: dict[str, str] = field(default_factory=dict)  # group ref -> display name
    skipped: list[Skipped] = field(default_factory=list)
    sources_read: int = 0


class InvalidEntity(ValueError):
    pass


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")


def _text(value, *, what: str, limit: int, required: bool = False) -> str:
    """A clean single string, or InvalidEntity naming the field."""
    if value is None or value == "":
        if required:
            raise InvalidEntity(f"{what} is missing")
        return ""
    if not isinstance(value, str):
        raise InvalidEntity(f"{what} must be a string")
    # A YAML escape can produce a lone surrogate or NUL; neither can be stored.
    if "\x00" in value:
        raise InvalidEntity(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEntity(f"{what} is not valid Unicode text") from None
    value = value.strip()
    if len(value) > limit:
        raise InvalidEntity(f"{what} is longer than {limit} characters")
    if required and not value:
        raise InvalidEntity(f"{what} is missing")
    return value


def _entity_name(value, *, what: str) -> str:
    name = _text(value, what=what, limit=63, required=True)
    if not _NAME.match(name):
        raise InvalidEntity(f"{what} {name!r} is not a valid Backstage name")
    return name


def repository_from_annotation(key: str, value: str) -> str:
    """The repository URL an annotation names ('' when it names none)."""
    if key == "github.com/project-slug":
        return f"https://github.com/{value.strip('/')}"
    if key == "gitlab.com/project-slug":
        return f"https://gitlab.com/{value.strip('/')}"
    # backstage.io/source-location: `url:https://host/org/repo/tree/main/dir/`
    location = value.removeprefix("url:")
    if not _is_url(location):
        return ""
    parsed = urlparse(location)
    parts = [p for p in parsed.path.split("/") if p]
    # Cut the browse suffix (GitHub /tree/ /blob/, GitLab /-/tree/) off the repository.
    for i, part in enumerate(parts):
        if part in ("-", "tree", "blob", "src"):
            parts = parts[:i]
            break
    if len(parts) < 2:
        return ""
    return f"{parsed.scheme}://{parsed.netloc}/{'/'.join(parts)}"


_REPOSITORY_ANNOTATIONS = (
    "github.com/project-slug",
    "gitlab.com/project-slug",
    "backstage.io/source-location",
)


def parse_component(entity: dict, *, source: str) -> Component:
    metadata = entity.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidEntity("metadata is missing")
    spec = entity.get("spec") or {}
    if not isinstance(spec, dict):
        raise InvalidEntity("spec must be a mapping")
    annotations = metadata.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidEntity("metadata.annotations must be a mapping")
    repositories = []
    for key in _REPOSITORY_ANNOTATIONS:
        raw = _text(annotations.get(key), what=f"annotation {key}", limit=400)
        url = repository_from_annotation(key, raw) if raw else ""
        if url and url not in repositories:
            repositories.append(url)
    return Component(
        source=source,
        name=_entity_name(metadata.get("name"), what="metadata.name"),
        namespace=_entity_name(metadata.get("namespace") or "default", what="metadata.namespace"),
        title=_text(metadata.get("title"), what="metadata.title", limit=200),
        owner=_text(spec.get("owner"), what="spec.owner", limit=200),
        lifecycle=_text(spec.get("lifecycle"), what="spec.lifecycle", limit=64),
        description=_text(metadata.get("description"), what="metadata.description", limit=5000),
        repositories=tuple(repositories),
    )


def group_ref(raw: str, *, default_kind: str = "group") -> str:
    """`team-a` / `group:team-a` / `group:default/team-a` -> `group:default/team-a`."""
    kind, _, rest = raw.rpartition(":") if ":" in raw else (default_kind, "", raw)
    namespace, _, name = rest.rpartition("/")
    return f"{kind or default_kind}:{namespace or 'default'}/{name}".lower()


def team_of(owner: str, group_titles: dict[str, str]) -> str:
    """The team for a Component's owner: its Group's display name when the catalog has it.

    Otherwise the owner as written, without a `group:` kind or `default/` namespace
    (`group:default/team-a` -> `team-a`); a `user:` owner stays as it is.
    """
    if not owner:
        return ""
    if group_ref(owner) in group_titles:
        return group_titles[group_ref(owner)]
    short = owner
    if short.lower().startswith("group:"):
        short = short[len("group:") :]
    if ":" not in short and short.lower().startswith("default/"):
        short = short[len("default/") :]
    return short


class _Reader:
    def __init__(self) -> None:
        self.catalog = Catalog()
        self._seen: set[str] = set()
        self._refs: set[str] = set()

    # Sources -------------------------------------------------------------------------------
    def read(self, source: str) -> None:
        if _is_url(source):
            self._read_url(source)
            return
        path = Path(source)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in _YAML_SUFFIXES and p.is_file() and ".git" not in p.parts
            )
            if not files:
                self._skip(source, "no .yaml or .yml files in this directory")
            for file in files:
                self._read_file(file)
        elif path.is_file():
            self._read_file(path)
        else:
            self._skip(source, "not found")

    def _read_file(self, path: Path) -> None:
        key = str(path.resolve())
        if key in self._seen:
            return
        self._seen.add(key)
        try:
            if path.stat().st_size > _MAX_BYTES:
                self._skip(str(path), f"larger than {_MAX_BYTES} bytes")
                return
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self._skip(str(path), f"cannot be read ({exc.__class__.__name__}: {exc})")
            return
        self._read_text(text, source=str(path), base=path.parent)

    def _read_url(self, url: str) -> None:
        if url in self._seen:
            return
        self._seen.add(url)
        try:
            request = urllib.request.Request(url, headers={"Accept": "text/plain, */*"})
            with urllib.request.urlopen(request, timeout=_URL_TIMEOUT) as response:
                body = response.read(_MAX_BYTES + 1)
            if len(body) > _MAX_BYTES:
                self._skip(url, f"larger than {_MAX_BYTES} bytes")
                return
            text = body.decode("utf-8")
        except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError is an OSError
            self._skip(url, f"unreachable ({exc})")
            return
        self._read_text(text, source=url, base=url)

    # Documents ------------------------------------------------------------------------------
    def _read_text(self, text: str, *, source: str, base: Path | str) -> None:
        documents = []
        try:
            for document in yaml.load_all(text, Loader=_Loader):
                documents.append(document)
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            self._skip(source, f"not valid YAML ({str(exc).splitlines()[0] if str(exc) else exc})")
            if not documents:
                return
        self.catalog.sources_read += 1
        for number, document in enumerate(documents, start=1):
            if document is None:
                continue
            where = f"{source} (document {number})" if len(documents) > 1 else source
            self._read_entity(document, source=where, base=base)

    def _read_entity(self, entity, *, source: str, base: Path | str) -> None:
        if not isinstance(entity, dict):
            self._skip(source, "not a catalog entity (expected a mapping)")
            return
        kind = entity.get("kind")
        if not isinstance(kind, str):
            self._skip(source, "kind is missing")
            return
        try:
            if kind.lower() == "component":
                self._component(parse_component(entity, source=source))
            elif kind.lower() == "location":
                self._location(entity, source=source, base=base)
            elif kind.lower() == "group":
                self._group(entity)
            # Other kinds (API, System, User, Resource...) are not services: silently skipped.
        except InvalidEntity as exc:
            self._skip(source, f"invalid {_safe(kind)}: {exc}")

    def _component(self, component: Component) -> None:
        if component.ref in self._refs:
            self._skip(component.source, f"{component.ref} already read from another file")
            return
        self._refs.add(component.ref)
        self.catalog.components.append(component)

    def _group(self, entity: dict) -> None:
        metadata = entity.get("metadata")
        spec = entity.get("spec") or {}
        if not isinstance(metadata, dict) or not isinstance(spec, dict):
            raise InvalidEntity("metadata is missing")
        name = _entity_name(metadata.get("name"), what="metadata.name")
        namespace = _entity_name(metadata.get("namespace") or "default", what="metadata.namespace")
        profile = spec.get("profile") if isinstance(spec.get("profile"), dict) else {}
        title = _text(profile.get("displayName"), what="spec.profile.displayName", limit=200)
        title = title or _text(metadata.get("title"), what="metadata.title", limit=200)
        if title:
            self.catalog.group_titles[f"group:{namespace}/{name}".lower()] = title

    def _location(self, entity: dict, *, source: str, base: Path | str) -> None:
        spec = entity.get("spec")
        if not isinstance(spec, dict):
            raise InvalidEntity("spec is missing")
        targets = spec.get("targets") or []
        if spec.get("target"):
            targets = [spec["target"], *targets] if isinstance(targets, list) else targets
        if not isinstance(targets, list):
            raise InvalidEntity("spec.targets must be a list")
        for raw in targets:
            try:
                target = _text(raw, what="spec.targets entry", limit=2000, required=True)
            except InvalidEntity as exc:
                self._skip(source, f"Location target skipped: {exc}")
                continue
            self._follow(target, source=source, base=base)

    def _follow(self, target: str, *, source: str, base: Path | str) -> None:
        if _is_url(target):
            self._read_url(target)
        elif isinstance(base, str):  # a Location read from a URL: its targets are relative URLs
            self._read_url(urljoin(base, target))
        else:
            path = (base / target).resolve() if not Path(target).is_absolute() else Path(target)
            if path.is_file():
                self._read_file(path)
            else:
                self._skip(source, f"Location target {target} not found")

    def _skip(self, source: str, reason: str) -> None:
        self.catalog.skipped.append(Skipped(source=_safe(source), reason=_safe(reason)))


def _safe(text: str) -> str:
    """Printable in any terminal: a lone surrogate from a YAML escape becomes a replacement."""
    return text.encode("utf-8", "replace").decode("utf-8")


def read_catalog(*, sources: list[str]) -> Catalog:
    """Every Component (and Group title) reachable from `sources`, with what was skipped."""
    reader = _Reader()
    for source in sources:
        reader.read(source)
    return reader.catalog
