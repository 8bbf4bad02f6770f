"""The bundled scenario files (TOML data). This module exists only so that they install with the package."""
