"""Workshop experiments: framing, byte order, IPC and server shapes, apart from the lab core."""
