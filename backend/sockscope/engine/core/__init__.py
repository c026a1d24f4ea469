"""The engine's pure parts: command types and checks, policy, errors, TCP_INFO decoding,
the kernel's TCP tables, payloads, call text and the link's schedule. No system calls."""
