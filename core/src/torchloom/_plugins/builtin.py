"""The built-in plugin: the kernel registers its own names through the same hooks as any plugin.

It is registered directly (not through an entry point) and always first. Only its entries with
``default=True`` are added to every Learner (``Registry.defaults``).
"""
from __future__ import annotations

from torchloom._plugins.hookspecs import CommandRegistrar, Register, hookimpl

_CB = "torchloom.callbacks"


@hookimpl
def register_callbacks(register: Register) -> None:
    register("train_eval", f"{_CB}._core:TrainEvalCallback", default=True, doc="switch model train/eval mode")
    register("cast_to_tensor", f"{_CB}._core:CastToTensor", default=True, doc="hand plain tensors to the model")
    register("recorder", f"{_CB}._core:Recorder", default=True, doc="record losses, metrics and hyper-parameters")
    register("fit_guard", f"{_CB}._guards:FitGuard", default=True,
             doc="clear gradients around fits, check the first batch's output, warn at the first NaN loss")
    register("progress", f"{_CB}._progress:ProgressCallback", default=True, doc="tqdm progress bars")
    register("gradient_accumulation", f"{_CB}._training:GradientAccumulation", doc="accumulate gradients")
    register("gradient_clip", f"{_CB}._training:GradientClip", doc="clip the gradient norm")
    register("terminate_on_nan", f"{_CB}._training:TerminateOnNaN", doc="stop when the loss is NaN")
    register("save_model", f"{_CB}._trackers:SaveModel", doc="save the best model")
    register("early_stopping", f"{_CB}._trackers:EarlyStopping", doc="stop when a metric stops improving")
    register("reduce_lr_on_plateau", f"{_CB}._trackers:ReduceLROnPlateau", doc="reduce LR on plateau")
    register("checkpoint", f"{_CB}._checkpoint:Checkpoint", doc="resumable checkpoints")
    # how a run executes, not what it computes: not recorded as a checkpoint's plugin (resume either way)
    register("ddp", "torchloom._distributed.ddp:DistributedTrainer", same_results=True,
             doc="distributed data-parallel training under torchrun (automatic there)")
    register("compile", "torchloom.callbacks._compile:CompileModel", same_results=True,
             doc="torch.compile the model, eager fallback")
    register("param_scheduler", "torchloom.callbacks._schedule:ParamScheduler", doc="schedule hyper-parameters")
    register("csv_logger", f"{_CB}._csv_logger:CSVLogger", doc="append the epoch table to a CSV file")
    register("tensorboard", f"{_CB}._tensorboard:TensorBoardCallback",
             doc="log losses, metrics, lr and hyper-parameters to TensorBoard (extra: torchloom[tensorboard])")


@hookimpl
def register_steppers(register: Register) -> None:
    for name in ("sgd_step", "weight_decay", "l2_reg", "momentum_step", "average_grad", "average_sqr_grad",
                 "step_stat", "adam_step", "radam_step"):
        register(name, f"torchloom.optim._steppers:{name}")


@hookimpl
def register_optimizers(register: Register) -> None:
    for name, cls, doc in (("sgd", "SGD", "SGD with momentum"), ("adam", "Adam", "Adam"),
                           ("adamw", "AdamW", "Adam with decoupled weight decay"),
                           ("radam", "RAdam", "rectified Adam"), ("ranger", "ranger", "Lookahead over RAdam")):
        register(name, f"torchloom.optim._optimizer:{cls}", doc=doc)
    register("fused_adamw", "torchloom.optim._fused:FusedAdamW", doc="torch AdamW with a fused (single-kernel) step")


@hookimpl
def register_transforms(register: Register) -> None:
    register("categorize", "torchloom.data._transforms:Categorize", doc="labels to category indices")
    register("multi_categorize", "torchloom.data._transforms:MultiCategorize", doc="multi-label categories")
    register("regression_setup", "torchloom.data._transforms:RegressionSetup", doc="float regression targets")
    register("int_to_float", "torchloom.data._transforms:IntToFloatTensor", doc="uint8 tensors to floats")


@hookimpl
def register_commands(cli: CommandRegistrar) -> None:
    cli.add_command("plugins", "torchloom._cli:configure_plugins", "list installed plugins and what they provide")
    cli.add_command("new-plugin", "torchloom._newplugin:configure", "create a new plugin from the template")
    cli.add_command("predict", "torchloom._deploy.predict:configure",
                    "stream files through a portable export (onnx / torch.export) into a CSV of predictions")
