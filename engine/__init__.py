"""nnstep's engine: scenario files, the ops of a dense network, the ordered steps of a run, gradient checks.

Pure numpy; it never imports Textual. Modules: ``scenario`` (loading and validation), ``ops`` (each
activation and loss with its derivative), ``steps`` (a run as an ordered list of steps), ``gradcheck``
(central differences), ``formats`` (text, JSON and seed printouts), ``bundled`` (the shipped scenarios)
and ``cli`` (the headless command line). Kept free of imports so that ``nnstep --help`` starts fast.
"""

__version__ = "0.1.0"
