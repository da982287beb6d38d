"""The campaign player's identification side (DESIGN §11): a thin Litestar app over
:mod:`shared.identity`."""
