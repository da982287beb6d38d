"""The Authorization API: a thin Litestar app over :mod:`shared` (see DESIGN.md)."""
