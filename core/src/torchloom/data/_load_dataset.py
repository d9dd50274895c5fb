"""``load_dataset(name)``: datasets are registered by plugins (``register_datasets``) and loaded by name."""
from __future__ import annotations

from typing import Any

from torchloom._plugins.manager import get_registry


def load_dataset(name: str, **kwargs: Any) -> Any:
    """Resolve the dataset loader registered as ``name`` and call it with ``kwargs``.

    Unknown names raise ``UnknownNameError`` listing the installed datasets and, for first-party
    names such as ``"fashion-mnist"``, the distribution to install.
    """
    return get_registry().resolve("dataset", name)(**kwargs)


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    return get_registry().names("dataset")
