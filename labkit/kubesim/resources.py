"""The table of REST resources the emulator serves, loaded from ``data/resources.yaml``.

Why a table: discovery, routing, printing, validation and OpenAPI all need the same facts
(group, version, kind, plural, scope, short names, subresources); keeping them as data in one
place means adding a resource is an entry here (plus, for its schema and protobuf fields, a rerun
of ``schemagen``/``protogen``, and for its ``kubectl get`` columns an entry in data/printers.yaml),
not edits across handlers. The same entry carries the
resource's registry strategy (deletion propagation default, whether a delete returns the object,
status on create and update, allocations, named update/delete strategies): one generic handler
reads these fields, as the Kubernetes apiserver configures one generic ``registry.Store`` per
resource, so no handler tests a kind. An unknown field in an entry is an error at load time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .datafile import load_yaml

DEFAULT_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    """One served resource, e.g. apps/v1 deployments."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    status: bool = False
    scale: bool = False
    generation: bool = False
    subresources: tuple[str, ...] = ()
    schema: str | None = None
    key: str = field(default="", compare=False)
    storage_version: str | None = None  # served by converting to this version (conversion.py)
    # ---- the registry strategy (see data/resources.yaml for what each field means) -------
    delete_returns_object: bool = False
    default_propagation: str = "Background"
    default_propagation_warning: str = ""
    gc_finalizers: tuple[str, ...] = ("foregroundDeletion", "orphan")
    keep_status_on_create: bool = False
    update_writes_status: bool = False
    uid_before_defaults: bool = False
    default_on_apply: bool = True
    update_strategy: str | None = None
    delete_strategy: str | None = None
    allocations: tuple[str, ...] = ()
    scale_selector: str = "labelSelector"
    name_validation: str = "dns1123Subdomain"
    computed: str | None = None  # a create answered by a handler (reviews.py), never stored

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """The name errors use: ``pods``, ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def readonly(self) -> bool:
        return "create" not in self.verbs

    def all_subresources(self) -> tuple[str, ...]:
        subs = list(self.subresources)
        if self.status:
            subs.append("status")
        if self.scale:
            subs.append("scale")
        return tuple(subs)


@lru_cache(maxsize=1)
def load() -> tuple[Resource, ...]:
    """All resources, in discovery order."""
    raw = load_yaml((Path(__file__).parent / "data" / "resources.yaml"))
    out = []
    for entry in raw:
        singular = entry.get("singular", entry["kind"].lower())
        out.append(Resource(
            group=entry["group"], version=entry["version"], kind=entry["kind"],
            plural=entry["plural"], namespaced=entry["namespaced"], singular=singular,
            short_names=tuple(entry.get("shortNames", ())),
            categories=tuple(entry.get("categories", ())),
            verbs=tuple(entry.get("verbs", DEFAULT_VERBS)),
            status=entry.get("status", False), scale=entry.get("scale", False),
            generation=entry.get("generation", False),
            subresources=tuple(entry.get("subresources", ())),
            schema=entry.get("schema"),
            key=f"{entry['group']}/{entry['plural']}",
            storage_version=entry.get("storageVersion"),
            **_strategy(entry),
        ))
    return tuple(out)


def _strategy(entry: dict) -> dict:
    """The strategy fields of one YAML entry, with the generic store's defaults."""
    out: dict = {}
    for yaml_key, attr, convert in STRATEGY_FIELDS:
        if yaml_key in entry:
            out[attr] = convert(entry[yaml_key])
    unknown = set(entry) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"data/resources.yaml: unknown field(s) {sorted(unknown)} in the entry for {entry.get('kind')}")
    return out


STRATEGY_FIELDS = (
    ("deleteReturnsObject", "delete_returns_object", bool),
    ("defaultPropagation", "default_propagation", str),
    ("defaultPropagationWarning", "default_propagation_warning", str),
    ("gcFinalizers", "gc_finalizers", tuple),
    ("keepStatusOnCreate", "keep_status_on_create", bool),
    ("updateWritesStatus", "update_writes_status", bool),
    ("uidBeforeDefaults", "uid_before_defaults", bool),
    ("defaultOnApply", "default_on_apply", bool),
    ("updateStrategy", "update_strategy", str),
    ("deleteStrategy", "delete_strategy", str),
    ("allocations", "allocations", tuple),
    ("scaleSelector", "scale_selector", str),
    ("nameValidation", "name_validation", str),
    ("computed", "computed", str),
)
KNOWN_KEYS = {"group", "version", "kind", "plural", "namespaced", "singular", "shortNames", "categories", "verbs",
              "status", "scale", "generation", "subresources", "schema", "storageVersion"} | {f[0] for f in STRATEGY_FIELDS}


@lru_cache(maxsize=None)
def by_path(group: str, version: str, plural: str) -> Resource | None:
    for res in load():
        if res.group == group and res.version == version and res.plural == plural:
            return res
    return None


@lru_cache(maxsize=None)
def by_kind(api_version: str, kind: str) -> Resource | None:
    for res in load():
        if res.api_version == api_version and res.kind == kind:
            return res
    return None


@lru_cache(maxsize=None)
def get(key: str) -> Resource:
    """Look a resource up by its store key ``group/plural`` (``/pods``, ``apps/deployments``): the stored version."""
    for res in load():
        if res.key == key and res.storage_version is None:
            return res
    raise KeyError(key)


def group_versions() -> dict[str, list[str]]:
    """Served group -> versions (core group is "")."""
    out: dict[str, list[str]] = {}
    for res in load():
        versions = out.setdefault(res.group, [])
        if res.version not in versions:
            versions.append(res.version)
    return out
