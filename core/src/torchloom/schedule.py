"""Schedules and the fit recipes (fit_one_cycle, fine_tune, lr_find...). Filled by issue 5."""


class ScheduleMixin:
    """Learner methods for the training recipes."""
