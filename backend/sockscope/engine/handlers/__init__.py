"""The commands, one module per family of ops; :mod:`.dispatch` maps an op to its handler."""
