"""kit-collab: une suite collaborative souveraine pour les communes."""

__version__ = "0.1.0"
