"""The nnstep debugger: a Textual app that shows, one step at a time, what the engine recorded.

Nothing here computes maths; every number on screen comes from :mod:`engine`. Importing this package
does not import Textual, so ``nnstep trace`` and friends start without it.
"""
