"""The script exporter: a lab's history as a Python program that replays it."""
