"""Tasks on the one task pipeline (:mod:`rnnkit.tasks.pipeline`): :mod:`rnnkit.tasks.forecast`
for time-series forecasting, :mod:`rnnkit.tasks.classify` for sequence classification and
:mod:`rnnkit.tasks.tag` for sequence tagging, each with a one-call API (``train``, ``evaluate``,
``predict``) that the ``rnnkit`` command wraps; :mod:`rnnkit.tasks.registry` lists them."""
