"""The room: an instructor, participants with their labs, votes, push and freeze.

Between lessons and api in the layers: it uses labs (through the registry and the bridge),
lessons (their questions) and the contract, and no web framework; api/room.py serves it.
"""
