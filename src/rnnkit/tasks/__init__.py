"""Tasks as importable one-call APIs (``train``, ``evaluate``, ``predict``) that the ``rnnkit``
command wraps: :mod:`rnnkit.tasks.forecast` for time-series forecasting,
:mod:`rnnkit.tasks.classify` for sequence classification and :mod:`rnnkit.tasks.tag` for
sequence tagging."""
