"""Sockscope benchmarks (``make bench``): medians of repeated runs, with same-run baselines."""
