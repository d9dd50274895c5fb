"""The built-in plugin: the kernel registers its own names through the same hooks as any plugin.

It is registered directly (not through an entry point) and always first. Only its entries with
``default=True`` are added to every Learner (``Registry.defaults``).
"""
from __future__ import annotations

from typing import Any

from .hookspecs import hookimpl

_CB = "torchloom.callbacks"


@hookimpl
def register_callbacks(register: Any) -> None:
    register("train_eval", f"{_CB}.core:TrainEvalCallback", default=True, doc="switch model train/eval mode")
    register("cast_to_tensor", f"{_CB}.core:CastToTensor", default=True, doc="hand plain tensors to the model")
    register("recorder", f"{_CB}.core:Recorder", default=True, doc="record losses, metrics and hyper-parameters")
    register("progress", f"{_CB}.progress:ProgressCallback", default=True, doc="tqdm progress bars")
    register("gradient_accumulation", f"{_CB}.training:GradientAccumulation", doc="accumulate gradients")
    register("gradient_clip", f"{_CB}.training:GradientClip", doc="clip the gradient norm")
    register("terminate_on_nan", f"{_CB}.training:TerminateOnNaN", doc="stop when the loss is NaN")
    register("save_model", f"{_CB}.trackers:SaveModel", doc="save the best model")
    register("early_stopping", f"{_CB}.trackers:EarlyStopping", doc="stop when a metric stops improving")
    register("reduce_lr_on_plateau", f"{_CB}.trackers:ReduceLROnPlateau", doc="reduce LR on plateau")
    register("checkpoint", f"{_CB}.checkpoint:Checkpoint", doc="resumable checkpoints")
    register("param_scheduler", "torchloom.schedule:ParamScheduler", doc="schedule hyper-parameters")


@hookimpl
def register_steppers(register: Any) -> None:
    for name in ("sgd_step", "weight_decay", "l2_reg", "momentum_step", "average_grad", "average_sqr_grad",
                 "step_stat", "adam_step", "radam_step"):
        register(name, f"torchloom.optim.steppers:{name}")
    for name, cls, doc in (("sgd", "SGD", "SGD with momentum"), ("adam", "Adam", "Adam"),
                           ("adamw", "AdamW", "Adam with decoupled weight decay"),
                           ("radam", "RAdam", "rectified Adam")):
        register(name, f"torchloom.optim.optimizer:{cls}", optimizer=True, doc=doc)
    register("ranger", "torchloom.optim.optimizer:ranger", optimizer=True, doc="Lookahead over RAdam")


@hookimpl
def register_transforms(register: Any) -> None:
    register("categorize", "torchloom.data.transforms:Categorize", doc="labels to category indices")
    register("multi_categorize", "torchloom.data.transforms:MultiCategorize", doc="multi-label categories")
    register("regression_setup", "torchloom.data.transforms:RegressionSetup", doc="float regression targets")
    register("int_to_float", "torchloom.data.transforms:IntToFloatTensor", doc="uint8 tensors to floats")


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command("plugins", "torchloom.cli:configure_plugins", "list installed plugins and what they provide")
    cli.add_command("new-plugin", "torchloom.newplugin:configure", "create a new plugin from the template")
    cli.add_command("predict", "torchloom.deploy.predict:configure",
                    "stream files through a portable export (onnx / torch.export) into a CSV of predictions")
