"""Lessons: the HOWTO's claims as guided experiments, checked against the kernel."""
