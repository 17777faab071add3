"""The simulated plant's errors, in a module without imports so the CLI loads them cheaply."""


class FaultScheduleError(ValueError):
    """A fault schedule (file or entry) is invalid; the message is one sentence for people."""


class SimSettingsError(ValueError):
    """The simulated plant's settings are out of range; the message is one sentence."""
