"""Every naming rule of the emulator in one place: generated-name suffixes, hashes, node names.

Why one module: the API server (``generateName``), the workload controllers (pod and ReplicaSet
names), the initial kind state and the course's checks all use the same alphabet and the same
rules; written once, they cannot drift apart.
"""
from __future__ import annotations

import random

# The characters Kubernetes draws generated names from (k8s.io/apimachinery/pkg/util/rand): no
# vowels and no 0/1/3, so that a suffix never spells a word and is never misread.
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SUFFIX_LENGTH = 5  # a generateName / pod-name suffix
HASH_LENGTH = 10  # a pod-template-hash or controller-revision-hash as kind's controllers print it


def suffix(rng: random.Random, length: int = SUFFIX_LENGTH) -> str:
    """``length`` characters of ``ALPHABET`` drawn from ``rng`` (one draw per character)."""
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def safe_encode(text: str) -> str:
    """Map each character onto ``ALPHABET`` (as rand.SafeEncodeString, used for template hashes)."""
    return "".join(ALPHABET[ord(ch) % len(ALPHABET)] for ch in text)


def generated(base: str, tail: str) -> str:
    """The name of an object a controller generates from ``base``: ``<base>-<tail>``."""
    return f"{base}-{tail}"


def generate_name(name: str) -> str:
    """The ``generateName`` prefix that produced ``name`` (everything up to the last dash)."""
    return name.rsplit("-", 1)[0] + "-"


def node_names(cluster: str, workers: int) -> list[str]:
    """kind's naming: ``<name>-control-plane``, ``<name>-worker``, ``<name>-worker2``, ..."""
    return [f"{cluster}-control-plane"] + [f"{cluster}-worker" + (str(i + 1) if i else "") for i in range(workers)]
