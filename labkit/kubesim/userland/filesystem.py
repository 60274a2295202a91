"""The files a container sees: the image's (its family's directories and files), what the kubelet
writes (``/etc/hosts``, ``/etc/resolv.conf``, ``/etc/hostname``, the service account token) and the
pod's volumes at their ``mountPath`` (ConfigMap, Secret, downwardAPI, projected, emptyDir), and the
kubelet's FailedMount wording when a volume cannot be set up.

Why the kubelet's rules: learners ``cat /etc/config/key``, ``ls /etc/secret-volume`` and
``cat /etc/resolv.conf`` from kubernetes.io tasks; files of a ConfigMap volume are its keys (or the
``items`` chosen, at their ``path``), with ``defaultMode`` (0644) or the item's ``mode``; ConfigMap
and Secret volumes are read-only; a missing ConfigMap, Secret or key that is not ``optional``
stops the pod in ContainerCreating with a FailedMount event.
"""
from __future__ import annotations

import base64
import hashlib
import posixpath
from dataclasses import dataclass, field
from typing import Any

from . import cluster, downward, history
from .families import Family

Obj = dict[str, Any]
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
CLUSTER_DOMAIN = "cluster.local"
CLUSTER_DNS = "10.96.0.10"
NODE_RESOLVER = "172.18.0.1"     # kind's nodes resolve through the docker network's gateway
HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
HOSTS_BASE = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
              "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
CA_PEM = ("-----BEGIN CERTIFICATE-----\n"
          "MIIDBTCCAe2gAwIBAgIIKubesimCAwDQYJKoZIhvcNAQELBQAwFTETMBEGA1UEAxMK\n"
          "a3ViZXJuZXRlczAeFw0yNjAxMDEwMDAwMDBaFw0zNjAxMDEwMDAwMDBaMBUxEzAR\n"
          "BgNVBAMTCmt1YmVybmV0ZXMwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB\n"
          "-----END CERTIFICATE-----\n")


def norm(path: str) -> str:
    """An absolute, normalised path (``//x/../y`` -> ``/y``; POSIX keeps a leading ``//``, we do not)."""
    return posixpath.normpath("/" + (path or "").lstrip("/"))


@dataclass
class Tree:
    """Paths to contents: bytes for a file, None for a directory; modes and read-only mount roots."""

    files: dict[str, bytes | None] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    readonly: list[str] = field(default_factory=list)
    mounts: dict[str, str] = field(default_factory=dict)     # mountPath -> volume name

    def add_dir(self, path: str) -> None:
        path = norm(path)
        while path not in self.files or self.files[path] is not None:
            self.files[path] = None
            if path == "/":
                break
            path = posixpath.dirname(path)

    def add_file(self, path: str, content: bytes, mode: int = 0o644) -> None:
        path = norm(path)
        self.add_dir(posixpath.dirname(path))
        self.files[path] = content
        self.modes[path] = mode

    def remove_under(self, root: str) -> None:
        root = norm(root)
        for p in [p for p in self.files if p == root or p.startswith(root.rstrip("/") + "/")]:
            del self.files[p]

    def is_readonly(self, path: str) -> bool:
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in self.readonly)


def hostname_of(pod: Obj) -> str:
    """The pod's hostname: ``spec.hostname`` or its name (cut to 63 characters, as the kubelet does)."""
    spec = pod.get("spec") or {}
    return (spec.get("hostname") or (pod.get("metadata") or {}).get("name", ""))[:63].rstrip("-.")


def hosts_file(pod: Obj) -> str:
    """The kubelet-managed /etc/hosts: localhost lines, the pod's IP and hostname (FQDN first when
    it has a ``subdomain``) and the ``hostAliases`` section."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    text = HOSTS_HEADER + HOSTS_BASE
    ip, host = status.get("podIP"), hostname_of(pod)
    if ip:
        if spec.get("subdomain"):
            ns = pod["metadata"].get("namespace", "default")
            text += f"{ip}\t{host}.{spec['subdomain']}.{ns}.svc.{CLUSTER_DOMAIN}\t{host}\n"
        else:
            text += f"{ip}\t{host}\n"
    if spec.get("hostAliases"):
        text += "\n# Entries added by HostAliases.\n"
        for alias in spec["hostAliases"]:
            text += f"{alias.get('ip', '')}\t" + "\t".join(alias.get("hostnames") or []) + "\n"
    return text


def resolv_conf(pod: Obj) -> str:
    """/etc/resolv.conf by ``dnsPolicy`` (ClusterFirst: cluster DNS and the search path) and ``dnsConfig``."""
    spec = pod.get("spec") or {}
    ns = pod["metadata"].get("namespace", "default")
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork")):
        servers, search, options = [CLUSTER_DNS], [f"{ns}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN], ["ndots:5"]
    elif policy == "None":
        servers, search, options = [], [], []
    else:  # Default, or ClusterFirst with hostNetwork: the node's resolver
        servers, search, options = [NODE_RESOLVER], [], []
    cfg = spec.get("dnsConfig") or {}
    servers += [s for s in cfg.get("nameservers") or [] if s not in servers]
    search += [s for s in cfg.get("searches") or [] if s not in search]
    for opt in cfg.get("options") or []:
        name = opt.get("name", "")
        options = [o for o in options if o.split(":", 1)[0] != name]
        options.append(f"{name}:{opt['value']}" if opt.get("value") is not None else name)
    lines = []
    if search:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {s}" for s in servers[:3]]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def token(pod: Obj, audience: str = "https://kubernetes.default.svc.cluster.local") -> bytes:
    """A bound service account token shaped like the real one (a JWT whose claims name the pod);
    the signature is not a real one."""
    meta = pod.get("metadata") or {}
    ns, sa = meta.get("namespace", "default"), (pod.get("spec") or {}).get("serviceAccountName") or "default"
    import json
    head = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": "kubesim"}).encode()).rstrip(b"=")
    claims = {"aud": [audience], "iss": f"https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
              "kubernetes.io": {"namespace": ns, "pod": {"name": meta.get("name", ""), "uid": meta.get("uid", "")},
                                "serviceaccount": {"name": sa}},
              "sub": f"system:serviceaccount:{ns}:{sa}"}
    body = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hashlib.sha256(head + b"." + body).digest()).rstrip(b"=")
    return head + b"." + body + b"." + sig


def _ca(store: Any, ns: str) -> bytes:
    cm = cluster.find(store, "/configmaps", ns, "kube-root-ca.crt")
    return ((cm or {}).get("data") or {}).get("ca.crt", CA_PEM).encode()


# volume sources whose files are an object's keys: store key, the field naming the object, the
# kubelet's word for it in messages, the word for a missing key, how to read its data
KEYED_SOURCES = {
    "configMap": ("/configmaps", "name", "configmap", "config", cluster.configmap_data),
    "secret": ("/secrets", "secretName", "secret", "secret", cluster.secret_data),
}


def _keyed_source(get: Any, source: str, src: Obj, mode: int,
                  projected: bool) -> tuple[dict[str, tuple[bytes, int]], str] | None:
    """The files of a configMap or secret volume (or projected source) and the kubelet's message
    for a missing key; None when the object itself is missing. A projected source names its
    object ``name``."""
    key, name_field, word, missing, data_of = KEYED_SOURCES[source]
    found = get(key, src.get("name" if projected else name_field, ""))
    if found is None:
        return None
    return _keyed(data_of(found), src.get("items"), mode, word, missing, bool(src.get("optional")))


def _missing_source(source: str, src: Obj, projected: bool) -> str:
    """The kubelet's message for a missing object, "" when the source is optional."""
    _, name_field, word, _, _ = KEYED_SOURCES[source]
    return "" if src.get("optional") else f'{word} "{src.get("name" if projected else name_field, "")}" not found'


def _keyed(data: dict[str, bytes], items: list[Obj] | None, mode: int, word: str, missing: str,
           optional: bool) -> tuple[dict[str, tuple[bytes, int]], str]:
    if not items:
        return {k: (v, mode) for k, v in data.items()}, ""
    out: dict[str, tuple[bytes, int]] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            return {}, f"{word} references non-existent {missing} key: {key}"
        out[item.get("path") or key] = (data[key], item.get("mode", mode))
    return out, ""


def _downward_items(store: Any, pod: Obj, items: list[Obj], mode: int) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    for item in items or []:
        value: str | None = None
        if item.get("fieldRef"):
            value = downward.field_value(pod, item["fieldRef"].get("fieldPath", ""))
        elif item.get("resourceFieldRef"):
            ref = item["resourceFieldRef"]
            c = containers.get(ref.get("containerName")) or next(iter(containers.values()), None)
            value = downward.resource_value(store, pod, c, ref.get("resource", ""), ref.get("divisor"))
        if value is not None and item.get("path"):
            out[item["path"]] = (value.encode(), item.get("mode", mode))
    return out


def volume_files(store: Any, pod: Obj, vol: Obj, mounted_at: float | None = None, now: float | None = None,
                 follows: bool = True) -> tuple[dict[str, tuple[bytes, int]] | None, str]:
    """(relative path -> (content, mode), error) of a volume; None for a volume that is a plain
    directory (emptyDir, hostPath, a PVC...). ``error`` is the SetUp failure, '' if none."""
    ns = pod["metadata"].get("namespace", "default")
    when_now = now if now is not None else store.clock.time()

    def get(key: str, name: str) -> Obj | None:
        found = history.mounted(store, key, ns, name, mounted_at, when_now, follows)
        if found is None and key == "/configmaps" and name == "kube-root-ca.crt":
            # the root-ca-cert-publisher puts it in every namespace, also in ones made after start-up
            return {"data": {"ca.crt": CA_PEM}}
        return found

    for source in KEYED_SOURCES:
        if vol.get(source) is not None:
            src = vol[source]
            files = _keyed_source(get, source, src, src.get("defaultMode", 0o644), projected=False)
            return files if files is not None else ({}, _missing_source(source, src, projected=False))
    if vol.get("downwardAPI") is not None:
        src = vol["downwardAPI"]
        return _downward_items(store, pod, src.get("items") or [], src.get("defaultMode", 0o644)), ""
    if vol.get("projected") is not None:
        src = vol["projected"]
        mode = src.get("defaultMode", 0o644)
        out: dict[str, tuple[bytes, int]] = {}
        errors: list[str] = []
        for source in src.get("sources") or []:
            keyed = next((k for k in KEYED_SOURCES if source.get(k) is not None), None)
            if keyed is not None:
                made = _keyed_source(get, keyed, source[keyed], mode, projected=True)
                if made is None:  # the object itself is missing: nothing of it is projected
                    if _missing_source(keyed, source[keyed], projected=True):
                        errors.append(_missing_source(keyed, source[keyed], projected=True))
                    continue
                files, err = made
            elif source.get("downwardAPI") is not None:
                files, err = _downward_items(store, pod, source["downwardAPI"].get("items") or [], mode), ""
            elif source.get("serviceAccountToken") is not None:
                s = source["serviceAccountToken"]
                files, err = {s.get("path", "token"): (token(pod, s.get("audience") or "https://kubernetes.default.svc.cluster.local"), mode)}, ""
            else:
                continue
            if err:
                errors.append(err)
            out.update(files)
        if errors:
            return {}, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        return out, ""
    return None, ""


def mount_errors(store: Any, pod: Obj) -> list[tuple[str, str]]:
    """(volume, event message) for each volume the kubelet cannot set up now (FailedMount)."""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        _, err = volume_files(store, pod, vol)
        if err:
            out.append((vol.get("name", ""), f'MountVolume.SetUp failed for volume "{vol.get("name", "")}" : {err}'))
    return out


def automounts_token(store: Any, pod: Obj) -> bool:
    """automountServiceAccountToken: the pod's setting, else its ServiceAccount's, else true."""
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    sa = cluster.find(store, "/serviceaccounts", pod["metadata"].get("namespace", "default"), spec.get("serviceAccountName") or "default")
    if sa is not None and sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def build(store: Any, pod: Obj, container: Obj, family: Family, hostname: str, mounted_at: float | None, now: float) -> Tree:
    """The container's file tree at ``now`` (before what its processes wrote)."""
    tree = Tree()
    tree.add_dir("/")
    for d in family.dirs:
        tree.add_dir(d)
    tree.add_dir("/tmp")
    for path, text in family.files.items():
        tree.add_file(path, text.replace("{hostname}", hostname).encode())
    if family.os and family.shell not in ("none", "ash") or family.name.endswith("alpine") or family.name == "alpine":
        tree.add_file("/etc/os-release", f'PRETTY_NAME="{family.os}"\n'.encode())
    if family.shell != "none":
        tree.add_file("/etc/passwd", PASSWD.encode())
        tree.add_file("/etc/group", GROUP.encode())
    tree.add_file("/etc/hostname", (hostname + "\n").encode())
    tree.add_file("/etc/hosts", hosts_file(pod).encode())
    tree.add_file("/etc/resolv.conf", resolv_conf(pod).encode())
    ns = pod["metadata"].get("namespace", "default")
    mounts = list(container.get("volumeMounts") or [])
    if automounts_token(store, pod) and not any(m.get("mountPath") == SA_DIR for m in mounts):
        # a pod stored without the admission's kube-api-access volume still gets the files
        tree.remove_under(SA_DIR)
        tree.add_file(SA_DIR + "/token", token(pod))
        tree.add_file(SA_DIR + "/ca.crt", _ca(store, ns))
        tree.add_file(SA_DIR + "/namespace", ns.encode())
        tree.readonly.append(SA_DIR)
        tree.mounts[SA_DIR] = "kube-api-access"
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    mount_token = automounts_token(store, pod)
    for m in mounts:
        vol = volumes.get(m.get("name"))
        if not mount_token and str(m.get("name", "")).startswith("kube-api-access-"):
            continue   # admission does not add it when automountServiceAccountToken is false
        path = norm(m.get("mountPath") or "/")
        if vol is None:
            continue
        sub = (m.get("subPath") or "").strip("/")
        files, err = volume_files(store, pod, vol, mounted_at, now, follows=not sub)
        tree.mounts[path] = vol.get("name", "")
        if files is None:
            if not sub:
                tree.remove_under(path)
            tree.add_dir(path)
        elif sub:
            if sub in files:
                tree.remove_under(path)
                tree.add_file(path, files[sub][0], files[sub][1])
            else:
                tree.remove_under(path)
                tree.add_dir(path)
                for rel, (content, mode) in files.items():
                    if rel.startswith(sub + "/"):
                        tree.add_file(posixpath.join(path, rel[len(sub) + 1:]), content, mode)
        else:
            tree.remove_under(path)
            tree.add_dir(path)
            for rel, (content, mode) in sorted(files.items()):
                tree.add_file(posixpath.join(path, rel), content, mode)
        if files is not None or m.get("readOnly"):
            tree.readonly.append(path)
    return tree
