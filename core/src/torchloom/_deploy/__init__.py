"""Portable exports (ONNX, ``torch.export``) with a JSON description of their preprocessing, and the
``torchloom predict`` command that streams files through them.

``export.py`` writes a model file plus ``<file>.json``; ``spec.py`` writes and checks that JSON;
``runtime.py`` loads an export without running code from it; ``readers.py`` finds the domain reader
a plugin registered and walks folders/CSVs; ``predict.py`` is the command.
"""
