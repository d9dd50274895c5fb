"""torchloom: a fastai-style deep-learning kernel on PyTorch, extended by plugins.

This module is the public line: every name a user or a plugin may import is listed in ``__all__``
(``torchloom.data``, ``torchloom.callbacks`` and ``torchloom.optim`` re-export their parts of it, and
``torchloom.testing`` holds the conformance kit). Modules and names that start with ``_`` are private
and may change in any release.

Names load lazily (PEP 562) so that ``import torchloom`` costs almost nothing beyond ``import torch``;
each name is imported from its module the first time it is used. Type checkers read the
``TYPE_CHECKING`` imports below instead, so ``from torchloom import Learner`` has its real type.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torchloom._lazy import lazy_exports
from torchloom._version import PLUGIN_API, __version__

if TYPE_CHECKING:
    from torchloom._deploy.predict import PredictSummary, UnreadableItemError, predict_files
    from torchloom._deploy.runtime import ExportedModel, load_exported
    from torchloom._deploy.spec import InvalidExportError
    from torchloom._dispatch import TypeDispatch
    from torchloom._distributed.ddp import DistributedTrainer
    from torchloom._distributed.env import is_main_process, num_distrib, rank0_first, rank_distrib
    from torchloom._distributed.sampler import Shard
    from torchloom._download import DownloadError, cache_dir, download_file, sha256_file
    from torchloom._interpret import ClassificationInterpretation, Interpretation
    from torchloom._learner import Learner, trainable_params
    from torchloom._learner_use import PluginConflictError
    from torchloom._losses import (
        BaseLoss,
        BCEWithLogitsLossFlat,
        CrossEntropyLossFlat,
        L1LossFlat,
        MSELossFlat,
    )
    from torchloom._metrics import (
        AccumMetric,
        AvgMetric,
        F1Score,
        Metric,
        Precision,
        Recall,
        TorchMetric,
        ValueMetric,
        accuracy,
        accuracy_multi,
        error_rate,
        mae,
        mse,
        rmse,
        top_k_accuracy,
    )
    from torchloom._persist.atomic import atomic_write
    from torchloom._persist.learner_io import MissingPluginError
    from torchloom._persist.load_learner import load_learner
    from torchloom._persist.safe import UnsafeFileError
    from torchloom._plotting import subplots
    from torchloom._plugins.errors import NameClashError, PluginError, PluginWarning, UnknownNameError
    from torchloom._plugins.hookspecs import KINDS, CommandRegistrar, Register, hookimpl, hookspec
    from torchloom._plugins.manager import get_registry
    from torchloom._plugins.registry import Command, Entry, PluginInfo, Registry
    from torchloom._targets import (
        Allow,
        Rule,
        TargetError,
        exportable_loss,
        import_target,
        model_factory,
        target_of,
    )
    from torchloom._tensors import (
        ShowTitle,
        TensorBase,
        TensorCategory,
        TensorMultiCategory,
        TitledFloat,
        TitledInt,
        TitledStr,
        default_device,
        retain_type,
        retain_types,
        show_image,
        show_title,
        to_device,
        to_plain,
    )
    from torchloom._transform import (
        DisplayedTransform,
        ItemTransform,
        Pipeline,
        RandTransform,
        SkipItemException,
        Transform,
        TransformError,
    )
    from torchloom._unwrap import unwrap_model
    from torchloom.callbacks._base import (
        Callback,
        CallbackOrderError,
        CancelBackwardException,
        CancelBatchException,
        CancelEpochException,
        CancelException,
        CancelFitException,
        CancelStepException,
        CancelTrainException,
        CancelValidateException,
        CancelValidException,
        FuncCallback,
        callback,
        event,
    )
    from torchloom.callbacks._checkpoint import Checkpoint
    from torchloom.callbacks._compile import CompileModel
    from torchloom.callbacks._core import CastToTensor, GatherPreds, Recorder, TrainEvalCallback
    from torchloom.callbacks._csv_logger import CSVLogger
    from torchloom.callbacks._logger import LoggerCallback
    from torchloom.callbacks._progress import ProgressCallback
    from torchloom.callbacks._schedule import (
        LRFinder,
        ParamScheduler,
        SchedCos,
        SchedExp,
        SchedLin,
        SchedNo,
        SchedPoly,
        combine_scheds,
        combined_cos,
    )
    from torchloom.callbacks._tensorboard import TensorBoardCallback
    from torchloom.callbacks._trackers import EarlyStopping, ReduceLROnPlateau, SaveModel
    from torchloom.callbacks._training import GradientAccumulation, GradientClip, TerminateOnNaN
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
    from torchloom.optim._fused import FusedAdamW
    from torchloom.optim._optimizer import (
        SGD,
        Adam,
        AdamW,
        Lookahead,
        Optimizer,
        RAdam,
        hyper_per_group,
        ranger,
    )
    from torchloom.optim._steppers import (
        Stepper,
        adam_step,
        average_grad,
        average_sqr_grad,
        bind_stepper,
        debias,
        l2_reg,
        momentum_step,
        radam_step,
        sgd_step,
        step_stat,
        weight_decay,
    )
    from torchloom.optim._wrapper import OptimWrapper

# public name -> private module (relative to this package) that defines it
_LAZY: dict[str, str] = {
    # plugin machinery
    "hookimpl": "_plugins.hookspecs",
    "hookspec": "_plugins.hookspecs",
    "Register": "_plugins.hookspecs",
    "CommandRegistrar": "_plugins.hookspecs",
    "get_registry": "_plugins.manager",
    "Entry": "_plugins.registry",
    "Registry": "_plugins.registry",
    "PluginInfo": "_plugins.registry",
    "Command": "_plugins.registry",
    "KINDS": "_plugins.hookspecs",
    "PluginError": "_plugins.errors",
    "UnknownNameError": "_plugins.errors",
    "NameClashError": "_plugins.errors",
    "PluginWarning": "_plugins.errors",
    "lazy_exports": "_lazy",
    "download_file": "_download",
    "cache_dir": "_download",
    "sha256_file": "_download",
    "DownloadError": "_download",
    # typed tensors, dispatch, transforms
    "TensorBase": "_tensors",
    "TensorCategory": "_tensors",
    "TensorMultiCategory": "_tensors",
    "to_plain": "_tensors",
    "to_device": "_tensors",
    "retain_type": "_tensors",
    "retain_types": "_tensors",
    "default_device": "_tensors",
    "show_image": "_tensors",
    "show_title": "_tensors",
    "ShowTitle": "_tensors",
    "TitledFloat": "_tensors",
    "TitledInt": "_tensors",
    "TitledStr": "_tensors",
    "TypeDispatch": "_dispatch",
    "Transform": "_transform",
    "ItemTransform": "_transform",
    "DisplayedTransform": "_transform",
    "Pipeline": "_transform",
    "RandTransform": "_transform",
    "TransformError": "_transform",
    "SkipItemException": "_transform",
    # data
    "TfmdLists": "data._lists",
    "Datasets": "data._lists",
    "DataLoader": "data._dataloader",
    "collate": "data._dataloader",
    "CollateError": "data._dataloader",
    "DataLoaders": "data._dataloaders",
    "Categorize": "data._transforms",
    "MultiCategorize": "data._transforms",
    "RegressionSetup": "data._transforms",
    "IntToFloatTensor": "data._transforms",
    "OneHotEncode": "data._transforms",
    "CategoryMap": "data._transforms",
    "EncodedMultiCategorize": "data._transforms",
    "LabelNotInVocabError": "data._transforms",
    "DataBlock": "data._block",
    "TransformBlock": "data._block",
    "CategoryBlock": "data._block",
    "MultiCategoryBlock": "data._block",
    "RegressionBlock": "data._block",
    "RandomSplitter": "data._splitters",
    "IndexSplitter": "data._splitters",
    "ColSplitter": "data._splitters",
    "GrandparentSplitter": "data._splitters",
    "FuncSplitter": "data._splitters",
    "EndSplitter": "data._splitters",
    "MaskSplitter": "data._splitters",
    "get_files": "data._getters",
    "get_image_files": "data._getters",
    "get_text_files": "data._getters",
    "parent_label": "data._getters",
    "RegexLabeller": "data._getters",
    "ColReader": "data._getters",
    "ItemGetter": "data._getters",
    "AttrGetter": "data._getters",
    "Getter": "data._getters",
    "load_dataset": "data._load_dataset",
    "list_datasets": "data._load_dataset",
    # callbacks
    "Callback": "callbacks._base",
    "FuncCallback": "callbacks._base",
    "callback": "callbacks._base",
    "event": "callbacks._base",
    "CallbackOrderError": "callbacks._base",
    "CancelException": "callbacks._base",
    "CancelBatchException": "callbacks._base",
    "CancelBackwardException": "callbacks._base",
    "CancelStepException": "callbacks._base",
    "CancelTrainException": "callbacks._base",
    "CancelValidException": "callbacks._base",
    "CancelEpochException": "callbacks._base",
    "CancelFitException": "callbacks._base",
    "CancelValidateException": "callbacks._base",
    "TrainEvalCallback": "callbacks._core",
    "CastToTensor": "callbacks._core",
    "Recorder": "callbacks._core",
    "GatherPreds": "callbacks._core",
    "ProgressCallback": "callbacks._progress",
    "GradientAccumulation": "callbacks._training",
    "GradientClip": "callbacks._training",
    "TerminateOnNaN": "callbacks._training",
    "SaveModel": "callbacks._trackers",
    "EarlyStopping": "callbacks._trackers",
    "ReduceLROnPlateau": "callbacks._trackers",
    "Checkpoint": "callbacks._checkpoint",
    "ParamScheduler": "callbacks._schedule",
    "LRFinder": "callbacks._schedule",
    "SchedLin": "callbacks._schedule",
    "SchedCos": "callbacks._schedule",
    "SchedNo": "callbacks._schedule",
    "SchedExp": "callbacks._schedule",
    "SchedPoly": "callbacks._schedule",
    "combine_scheds": "callbacks._schedule",
    "combined_cos": "callbacks._schedule",
    # learner, metrics, losses
    "Learner": "_learner",
    "trainable_params": "_learner",
    "PluginConflictError": "_learner_use",
    "Metric": "_metrics",
    "AvgMetric": "_metrics",
    "AccumMetric": "_metrics",
    "ValueMetric": "_metrics",
    "Precision": "_metrics",
    "Recall": "_metrics",
    "F1Score": "_metrics",
    "accuracy": "_metrics",
    "error_rate": "_metrics",
    "top_k_accuracy": "_metrics",
    "accuracy_multi": "_metrics",
    "rmse": "_metrics",
    "mae": "_metrics",
    "mse": "_metrics",
    "BaseLoss": "_losses",
    "CrossEntropyLossFlat": "_losses",
    "BCEWithLogitsLossFlat": "_losses",
    "MSELossFlat": "_losses",
    "L1LossFlat": "_losses",
    # optim
    "Optimizer": "optim._optimizer",
    "SGD": "optim._optimizer",
    "Adam": "optim._optimizer",
    "AdamW": "optim._optimizer",
    "RAdam": "optim._optimizer",
    "Lookahead": "optim._optimizer",
    "ranger": "optim._optimizer",
    "hyper_per_group": "optim._optimizer",
    "OptimWrapper": "optim._wrapper",
    "Stepper": "optim._steppers",
    "sgd_step": "optim._steppers",
    "momentum_step": "optim._steppers",
    "adam_step": "optim._steppers",
    "radam_step": "optim._steppers",
    "average_grad": "optim._steppers",
    "average_sqr_grad": "optim._steppers",
    "step_stat": "optim._steppers",
    "l2_reg": "optim._steppers",
    "weight_decay": "optim._steppers",
    "debias": "optim._steppers",
    "bind_stepper": "optim._steppers",
    # persistence
    "atomic_write": "_persist.atomic",
    "MissingPluginError": "_persist.learner_io",
    "load_learner": "_persist.load_learner",
    "UnsafeFileError": "_persist.safe",
    # the one resolver of "module:Name" targets (security boundary of every load path)
    "model_factory": "_targets",
    "import_target": "_targets",
    "target_of": "_targets",
    "Allow": "_targets",
    "Rule": "_targets",
    "TargetError": "_targets",
    "exportable_loss": "_targets",
    # scale: distributed training, compilation, fused optimizer steps
    "DistributedTrainer": "_distributed.ddp",
    "CompileModel": "callbacks._compile",
    "FusedAdamW": "optim._fused",
    "is_main_process": "_distributed.env",
    "rank0_first": "_distributed.env",
    "rank_distrib": "_distributed.env",
    "num_distrib": "_distributed.env",
    "Shard": "_distributed.sampler",
    "unwrap_model": "_unwrap",
    # portable exports and batch inference
    "load_exported": "_deploy.runtime",
    "ExportedModel": "_deploy.runtime",
    "InvalidExportError": "_deploy.spec",
    "predict_files": "_deploy.predict",
    "PredictSummary": "_deploy.predict",
    "UnreadableItemError": "_deploy.predict",
    # everyday tools: logging, interpretation, summary, plots, torchmetrics
    "LoggerCallback": "callbacks._logger",
    "CSVLogger": "callbacks._csv_logger",
    "TensorBoardCallback": "callbacks._tensorboard",
    "TorchMetric": "_metrics",
    "Interpretation": "_interpret",
    "ClassificationInterpretation": "_interpret",
    "subplots": "_plotting",
}

__all__ = [
    "AccumMetric", "Adam", "AdamW", "Allow", "AttrGetter", "AvgMetric", "BCEWithLogitsLossFlat", "BaseLoss",
    "CSVLogger", "Callback", "CallbackOrderError", "CancelBackwardException", "CancelBatchException",
    "CancelEpochException", "CancelException", "CancelFitException", "CancelStepException",
    "CancelTrainException", "CancelValidException", "CancelValidateException", "CastToTensor", "Categorize",
    "CategoryBlock", "CategoryMap", "Checkpoint", "ClassificationInterpretation", "ColReader",
    "ColSplitter", "CollateError", "Command", "CommandRegistrar", "CompileModel", "CrossEntropyLossFlat",
    "DataBlock", "DataLoader", "DataLoaders", "Datasets", "DisplayedTransform", "DistributedTrainer",
    "DownloadError", "EarlyStopping", "EncodedMultiCategorize", "EndSplitter", "Entry", "ExportedModel",
    "F1Score", "FuncCallback", "FuncSplitter", "FusedAdamW", "GatherPreds", "Getter",
    "GradientAccumulation", "GradientClip", "GrandparentSplitter", "IndexSplitter", "IntToFloatTensor",
    "Interpretation", "InvalidExportError", "ItemGetter", "ItemTransform", "KINDS", "L1LossFlat",
    "LRFinder", "LabelNotInVocabError", "Learner", "LoggerCallback", "Lookahead", "MSELossFlat",
    "MaskSplitter", "Metric", "MissingPluginError", "MultiCategorize", "MultiCategoryBlock",
    "NameClashError", "OneHotEncode", "OptimWrapper", "Optimizer", "PLUGIN_API", "ParamScheduler",
    "Pipeline", "PluginConflictError", "PluginError", "PluginInfo", "PluginWarning", "Precision",
    "PredictSummary", "ProgressCallback", "RAdam", "RandTransform", "RandomSplitter", "Recall", "Recorder",
    "ReduceLROnPlateau", "RegexLabeller", "Register", "Registry", "RegressionBlock", "RegressionSetup",
    "Rule", "SGD", "SaveModel", "SchedCos", "SchedExp", "SchedLin", "SchedNo", "SchedPoly", "Shard", "ShowTitle",
    "SkipItemException", "Stepper", "TargetError", "TensorBase", "TensorBoardCallback", "TensorCategory",
    "TensorMultiCategory", "TerminateOnNaN", "TfmdLists", "TitledFloat", "TitledInt", "TitledStr",
    "TorchMetric", "TrainEvalCallback", "Transform", "TransformBlock", "TransformError", "TypeDispatch",
    "UnknownNameError", "UnreadableItemError", "UnsafeFileError", "ValueMetric", "__version__", "accuracy",
    "accuracy_multi", "adam_step", "atomic_write", "average_grad", "average_sqr_grad", "bind_stepper",
    "cache_dir", "callback", "collate", "combine_scheds", "combined_cos", "debias", "default_device",
    "download_file", "error_rate", "event", "exportable_loss", "get_files", "get_image_files",
    "get_registry", "get_text_files", "hookimpl", "hookspec", "hyper_per_group", "import_target", "is_main_process", "l2_reg",
    "lazy_exports", "list_datasets", "load_dataset", "load_exported", "load_learner", "mae",
    "model_factory", "momentum_step", "mse", "num_distrib", "parent_label", "predict_files", "radam_step",
    "ranger", "rank0_first", "rank_distrib", "retain_type", "retain_types", "rmse", "sgd_step", "sha256_file",
    "show_image", "show_title", "step_stat", "subplots", "target_of", "to_device", "to_plain",
    "top_k_accuracy", "trainable_params", "unwrap_model", "weight_decay",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__)
