"""Export trained models for deployment: ONNX graphs with state (:mod:`.graphs`, lowered by
:mod:`.recurrent`), verified against rnnkit at export time (:mod:`.onnx_export`), and int8
dynamic quantisation (:mod:`.quantize`). Needs the ``export`` extra
(``pip install rnnkit[export]``); the runner lives in :mod:`rnnkit.deploy`."""

from rnnkit.export.onnx_export import DEFAULT_TOLERANCE, Agreement, ExportReport, export
from rnnkit.export.recurrent import ExportableRecurrent, ExportError, exportable_copy

__all__ = [
    "DEFAULT_TOLERANCE",
    "Agreement",
    "ExportError",
    "ExportReport",
    "ExportableRecurrent",
    "export",
    "exportable_copy",
]
