"""Recurrence objects: the names the sequence driver used before the cell table.

:class:`Recurrence` is :class:`rnnkit.functional.cell_table.CellSpec` (``mode`` = ``name``,
``gates`` = ``gate_count``), :data:`RECURRENCES` a read-only live view of the table and
:func:`get_recurrence` its lookup; new code should use :mod:`rnnkit.functional.cell_table`.
"""

from __future__ import annotations

from types import MappingProxyType

from rnnkit.functional.cell_table import _CELLS, CellSpec, State, get_cell

Recurrence = CellSpec

#: Every registered cell by name (a read-only view that follows register_cell).
RECURRENCES = MappingProxyType(_CELLS)


def get_recurrence(mode: str) -> Recurrence:
    """Look up a cell family by mode name, e.g. ``get_recurrence('gru')``."""
    return get_cell(mode, argument="mode")


__all__ = ["RECURRENCES", "Recurrence", "State", "get_recurrence"]
