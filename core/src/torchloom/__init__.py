"""torchloom: a fastai-style deep-learning kernel on PyTorch, extended by plugins.

Public names are loaded lazily (PEP 562) so that ``import torchloom`` costs almost nothing
beyond ``import torch``; each name is imported from its module the first time it is used.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
PLUGIN_API = 1

# name -> module (relative to this package). Each area keeps its own block.
_LAZY: dict[str, str] = {
    # plugin machinery (issue 2)
    "hookimpl": "plugins.hookspecs",
    "hookspec": "plugins.hookspecs",
    "get_registry": "plugins.registry",
    "load_dataset": "datasets",
    # typed tensors, dispatch, transforms (issue 3)
    "TensorBase": "torch_core",
    "TensorCategory": "torch_core",
    "TensorMultiCategory": "torch_core",
    "to_plain": "torch_core",
    "to_device": "torch_core",
    "TypeDispatch": "dispatch",
    "Transform": "transform",
    "ItemTransform": "transform",
    "DisplayedTransform": "transform",
    "Pipeline": "transform",
    "RandTransform": "transform",
    "TransformError": "transform",
    "retain_type": "torch_core",
    "show_image": "torch_core",
    "show_title": "torch_core",
    # data (issue 3)
    "TfmdLists": "data.lists",
    "Datasets": "data.lists",
    "DataLoader": "data.load",
    "DataLoaders": "data.loaders",
    "Categorize": "data.transforms",
    "MultiCategorize": "data.transforms",
    "RegressionSetup": "data.transforms",
    "IntToFloatTensor": "data.transforms",
    "DataBlock": "data.block",
    "TransformBlock": "data.block",
    "CategoryBlock": "data.block",
    "MultiCategoryBlock": "data.block",
    "RegressionBlock": "data.block",
    "RandomSplitter": "data.splitters",
    "IndexSplitter": "data.splitters",
    "ColSplitter": "data.splitters",
    "GrandparentSplitter": "data.splitters",
    "get_files": "data.getters",
    "get_image_files": "data.getters",
    "parent_label": "data.getters",
    "RegexLabeller": "data.getters",
    "ColReader": "data.getters",
    "FuncSplitter": "data.splitters",
    "EndSplitter": "data.splitters",
    "get_text_files": "data.getters",
    "ItemGetter": "data.getters",
    "OneHotEncode": "data.transforms",
    "CategoryMap": "data.transforms",
    "EncodedMultiCategorize": "data.transforms",
    "SkipItemException": "transform",
    "collate": "data.load",
    "CollateError": "data.load",
    # learner (issue 4)
    "Learner": "learner",
    "Callback": "callback",
    "CancelBatchException": "callback",
    "CancelBackwardException": "callback",
    "CancelStepException": "callback",
    "CancelTrainException": "callback",
    "CancelValidException": "callback",
    "CancelEpochException": "callback",
    "CancelFitException": "callback",
    "CancelValidateException": "callback",
    "FuncCallback": "callback",
    "TrainEvalCallback": "callbacks.core",
    "CastToTensor": "callbacks.core",
    "Recorder": "callbacks.core",
    "ProgressCallback": "callbacks.progress",
    "PluginConflictError": "learner",
    "trainable_params": "learner",
    "Metric": "metrics",
    "AvgMetric": "metrics",
    "AccumMetric": "metrics",
    "ValueMetric": "metrics",
    "Precision": "metrics",
    "Recall": "metrics",
    "mse": "metrics",
    "BaseLoss": "losses",
    "accuracy": "metrics",
    "error_rate": "metrics",
    "top_k_accuracy": "metrics",
    "accuracy_multi": "metrics",
    "rmse": "metrics",
    "mae": "metrics",
    "F1Score": "metrics",
    "CrossEntropyLossFlat": "losses",
    "BCEWithLogitsLossFlat": "losses",
    "MSELossFlat": "losses",
    "L1LossFlat": "losses",
    # optimizer, schedules, persistence (issue 5)
    "Optimizer": "optim.optimizer",
    "SGD": "optim.optimizer",
    "Adam": "optim.optimizer",
    "AdamW": "optim.optimizer",
    "RAdam": "optim.optimizer",
    "OptimWrapper": "optim.wrapper",
    "Lookahead": "optim.optimizer",
    "ranger": "optim.optimizer",
    "ParamScheduler": "schedule",
    "SchedLin": "schedule",
    "SchedCos": "schedule",
    "SchedNo": "schedule",
    "SchedExp": "schedule",
    "SchedPoly": "schedule",
    "combine_scheds": "schedule",
    "combined_cos": "schedule",
    "GradientAccumulation": "callbacks.training",
    "GradientClip": "callbacks.training",
    "TerminateOnNaN": "callbacks.training",
    "SaveModel": "callbacks.trackers",
    "EarlyStopping": "callbacks.trackers",
    "ReduceLROnPlateau": "callbacks.trackers",
    "Checkpoint": "callbacks.checkpoint",
    "atomic_write": "persist.atomic",
    "load_learner": "persist.learner_io",
    "model_factory": "persist.safe",
}

__all__ = sorted(_LAZY) + ["PLUGIN_API", "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'torchloom' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
