"""torchloom.callbacks: Callbacks: the ``Callback`` base class and events, the default callbacks, training helpers,
trackers, checkpointing and parameter schedules.

Every name here is also importable from ``torchloom``; the modules inside are private.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torchloom._lazy import lazy_exports

if TYPE_CHECKING:
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

_LAZY: dict[str, str] = {
    # callbacks
    "Callback": "_base",
    "FuncCallback": "_base",
    "callback": "_base",
    "event": "_base",
    "CallbackOrderError": "_base",
    "CancelException": "_base",
    "CancelBatchException": "_base",
    "CancelBackwardException": "_base",
    "CancelStepException": "_base",
    "CancelTrainException": "_base",
    "CancelValidException": "_base",
    "CancelEpochException": "_base",
    "CancelFitException": "_base",
    "CancelValidateException": "_base",
    "TrainEvalCallback": "_core",
    "CastToTensor": "_core",
    "Recorder": "_core",
    "GatherPreds": "_core",
    "ProgressCallback": "_progress",
    "GradientAccumulation": "_training",
    "GradientClip": "_training",
    "TerminateOnNaN": "_training",
    "SaveModel": "_trackers",
    "EarlyStopping": "_trackers",
    "ReduceLROnPlateau": "_trackers",
    "Checkpoint": "_checkpoint",
    "LoggerCallback": "_logger",
    "CSVLogger": "_csv_logger",
    "TensorBoardCallback": "_tensorboard",
    "ParamScheduler": "_schedule",
    "LRFinder": "_schedule",
    "SchedLin": "_schedule",
    "SchedCos": "_schedule",
    "SchedNo": "_schedule",
    "SchedExp": "_schedule",
    "SchedPoly": "_schedule",
    "combine_scheds": "_schedule",
    "combined_cos": "_schedule",
}

__all__ = [
    "CSVLogger", "Callback", "CallbackOrderError", "CancelBackwardException", "CancelBatchException",
    "CancelEpochException", "CancelException", "CancelFitException", "CancelStepException", "CancelTrainException",
    "CancelValidException", "CancelValidateException", "CastToTensor", "Checkpoint", "EarlyStopping", "FuncCallback",
    "GatherPreds", "GradientAccumulation", "GradientClip", "LRFinder", "LoggerCallback", "ParamScheduler",
    "ProgressCallback", "Recorder", "ReduceLROnPlateau", "SaveModel", "SchedCos", "SchedExp", "SchedLin", "SchedNo",
    "SchedPoly", "TensorBoardCallback", "TerminateOnNaN", "TrainEvalCallback", "callback", "combine_scheds",
    "combined_cos", "event",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__)
