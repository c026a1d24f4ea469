/** Builders the front-end tests share: lab records as the engine would describe them. */
import type { SocketInfo } from "../protocol/events";

/** A socket record with everyday defaults (a connected, non-blocking socket); override any field. */
export function socketInfo(name: string, over: Partial<SocketInfo> = {}): SocketInfo {
  return {
    name,
    fd: 7,
    role: "connected",
    local: null,
    peer: null,
    blocking: false,
    timeout: null,
    origin: "socket",
    listener: null,
    auto_accept: false,
    auto_recv: "off",
    bufsize: 4096,
    eof: false,
    pending_out: 0,
    watch_read: false,
    watch_write: false,
    network: "host",
    family: "AF_INET",
    type: "SOCK_STREAM",
    dup_of: null,
    ...over,
  };
}
