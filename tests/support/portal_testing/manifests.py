"""The Kubernetes manifests as the deploy tests read them: the base's resources as
written, or an overlay as `kubectl kustomize` renders it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
Doc = dict[str, Any]


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def base_docs() -> list[Doc]:
    kustomization = load(K8S / "base" / "kustomization.yaml")[0]
    return [d for name in kustomization["resources"] for d in load(K8S / "base" / name)]


def rendered(overlay: str) -> list[Doc]:
    """The overlay as kustomize renders it; the test is skipped where kubectl is missing."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the overlay cannot be rendered here")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d is not None]


def variant(name: str) -> list[Doc]:
    """ "base", or the name of an overlay."""
    return base_docs() if name == "base" else rendered(name)


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return found
