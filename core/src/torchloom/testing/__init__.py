"""torchloom.testing -- the conformance kit for plugin and callback authors.

* ``synth_learner(...)`` -- a tiny Learner on synthetic tensors (CPU, about a second to fit).
* ``EventRecorder`` -- a callback that records every event; ``assert_order(...)`` checks sequences.
* ``CallbackContract`` -- a pytest base class. A plugin's whole conformance suite is::

      # tests/test_contract.py
      from torchloom.testing import CallbackContract

      class TestMixUpContract(CallbackContract):
          name = "mixup"            # a registered name (learn.use) ...
          kwargs = {"alpha": 0.4}
          # callback = MixUp        # ... or a Callback class (added with add_cb)

  pytest collects the inherited tests: ``use`` then ``unuse`` leaves no residue, ``fit(1)`` works
  with a finite loss, ``state_dict`` round-trips, a second ``use`` is idempotent, a
  KeyboardInterrupt mid-fit leaves the learner clean, and importing the plugin changes nothing on
  other learners. Override ``make_learner`` to train on your own data (e.g. images for a vision
  callback), or set ``task = "classification"``.
* ``run_markdown(path, namespace=..., cwd=...)`` / ``code_blocks(path)`` -- execute the Python blocks
  of a README in order (one namespace); an error names the file and line of the failing block.
* ``assert_discovery_is_lazy(kind, name, module)`` -- in a fresh interpreter, discovering plugins
  does not import ``module`` (the heavy one behind the entry); loading the entry does.
"""
from __future__ import annotations

from torchloom.testing._contract import CallbackContract
from torchloom.testing._discovery import assert_discovery_is_lazy
from torchloom.testing._events import EventRecorder
from torchloom.testing._markdown import CodeBlock, MarkdownExampleError, code_blocks, run_markdown
from torchloom.testing._synth import SynthDataLoaders, synth_learner

__all__ = ["CallbackContract", "CodeBlock", "EventRecorder", "MarkdownExampleError", "SynthDataLoaders",
           "assert_discovery_is_lazy", "code_blocks", "run_markdown", "synth_learner"]
