"""torchloom.data: The data layer: typed items to batches (``TfmdLists``, ``Datasets``, ``DataLoader(s)``, ``DataBlock``,
getters, splitters, label transforms, named datasets).

Every name here is also importable from ``torchloom``; the modules inside are private.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torchloom._lazy import lazy_exports

if TYPE_CHECKING:
    from torchloom.data._block import (
        CategoryBlock,
        DataBlock,
        MultiCategoryBlock,
        RegressionBlock,
        TransformBlock,
    )
    from torchloom.data._dataloader import CollateError, DataLoader, collate
    from torchloom.data._dataloaders import DataLoaders
    from torchloom.data._getters import (
        AttrGetter,
        ColReader,
        Getter,
        ItemGetter,
        RegexLabeller,
        get_files,
        get_image_files,
        get_text_files,
        parent_label,
    )
    from torchloom.data._lists import Datasets, TfmdLists
    from torchloom.data._load_dataset import list_datasets, load_dataset
    from torchloom.data._splitters import (
        ColSplitter,
        EndSplitter,
        FuncSplitter,
        GrandparentSplitter,
        IndexSplitter,
        MaskSplitter,
        RandomSplitter,
    )
    from torchloom.data._transforms import (
        Categorize,
        CategoryMap,
        EncodedMultiCategorize,
        IntToFloatTensor,
        LabelNotInVocabError,
        MultiCategorize,
        OneHotEncode,
        RegressionSetup,
    )

_LAZY: dict[str, str] = {
    # data
    "TfmdLists": "_lists",
    "Datasets": "_lists",
    "DataLoader": "_dataloader",
    "collate": "_dataloader",
    "CollateError": "_dataloader",
    "DataLoaders": "_dataloaders",
    "Categorize": "_transforms",
    "MultiCategorize": "_transforms",
    "RegressionSetup": "_transforms",
    "IntToFloatTensor": "_transforms",
    "OneHotEncode": "_transforms",
    "CategoryMap": "_transforms",
    "EncodedMultiCategorize": "_transforms",
    "LabelNotInVocabError": "_transforms",
    "DataBlock": "_block",
    "TransformBlock": "_block",
    "CategoryBlock": "_block",
    "MultiCategoryBlock": "_block",
    "RegressionBlock": "_block",
    "RandomSplitter": "_splitters",
    "IndexSplitter": "_splitters",
    "ColSplitter": "_splitters",
    "GrandparentSplitter": "_splitters",
    "FuncSplitter": "_splitters",
    "EndSplitter": "_splitters",
    "MaskSplitter": "_splitters",
    "get_files": "_getters",
    "get_image_files": "_getters",
    "get_text_files": "_getters",
    "parent_label": "_getters",
    "RegexLabeller": "_getters",
    "ColReader": "_getters",
    "ItemGetter": "_getters",
    "AttrGetter": "_getters",
    "Getter": "_getters",
    "load_dataset": "_load_dataset",
    "list_datasets": "_load_dataset",
}

__all__ = [
    "AttrGetter", "Categorize", "CategoryBlock", "CategoryMap", "ColReader", "ColSplitter", "CollateError",
    "DataBlock", "DataLoader", "DataLoaders", "Datasets", "EncodedMultiCategorize", "EndSplitter",
    "FuncSplitter", "Getter", "GrandparentSplitter", "IndexSplitter", "IntToFloatTensor", "ItemGetter",
    "LabelNotInVocabError", "MaskSplitter", "MultiCategorize", "MultiCategoryBlock", "OneHotEncode",
    "RandomSplitter", "RegexLabeller", "RegressionBlock", "RegressionSetup", "TfmdLists", "TransformBlock",
    "collate", "get_files", "get_image_files", "get_text_files", "list_datasets", "load_dataset",
    "parent_label",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__)
