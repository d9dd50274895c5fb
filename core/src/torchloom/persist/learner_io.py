"""Learner save/load/export and load_learner. Filled by issue 5."""


class PersistMixin:
    """Learner methods for persistence."""
