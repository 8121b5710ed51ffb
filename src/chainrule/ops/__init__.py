"""Differentiable primitives, one family per file.

Each op is a :class:`~chainrule.autograd.Function` on raw arrays whose forward and
backward sit side by side; ops know nothing of ``Tensor``.
"""
