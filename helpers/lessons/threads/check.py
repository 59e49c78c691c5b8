"""This lesson's section of ``python -m helpers check``: its effects, each named once, with its threshold."""

from . import check_effects as check

__all__ = ["check"]
