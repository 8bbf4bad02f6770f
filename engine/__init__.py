"""nnstep's engine: scenario files, the ops of a dense network, the recorded steps of an iteration,
sessions over training runs, gradient checks, renderings and the headless command line.

Pure numpy; it never imports Textual. Kept free of imports so that ``nnstep --help`` starts fast.
"""

from nnstep import __version__

__all__ = ["__version__"]
