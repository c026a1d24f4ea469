"""Sockscope: a visual playground for real TCP sockets."""

__version__ = "0.1.0"
