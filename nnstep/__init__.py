"""nnstep: a keyboard-driven terminal step-debugger for the maths of small dense neural networks.

The folders ``engine/``, ``tui/`` and ``scenarios/`` of the repository install as ``nnstep.engine``
(pure numpy: scenarios, ops, recorded steps, sessions, checks, the headless CLI), ``nnstep.tui`` (the
Textual app) and ``nnstep.scenarios`` (the bundled scenario files). Importing this package imports
neither numpy nor Textual, so ``nnstep --version`` answers at once.
"""

__version__ = "0.1.0"
