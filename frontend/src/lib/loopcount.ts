/**
 * The select() loop's iteration count, as the header shows it.
 *
 * The backend reports a select() only when something happened (a socket ready, the lists
 * changed, a step); quiet ones (timed out, nothing ready, the same lists) are counted and
 * carried in the next report's `idle_before`. A lab that waits quietly sends no report at
 * all, so the last reported number goes stale. Between reports the count is estimated:
 * one more per timeout, while some socket is waiting in select(); each report puts the
 * exact number back.
 */
import type { SocketInfo } from "../protocol/events";

const IN_OPS = new Set(["recv", "recv_into", "accept"]);

/** Whether the lab program keeps this socket in select()'s lists (the engine's wants_read/write). */
export function inSelect(info: SocketInfo, blockedOps: string[], inLink: boolean): boolean {
  const blockedIn = blockedOps.some((op) => IN_OPS.has(op));
  const blockedOut = blockedOps.some((op) => !IN_OPS.has(op));
  if (inLink && info.role !== "listening") return info.role === "connected" || info.role === "connecting";
  const reads =
    !blockedIn &&
    (info.role === "listening"
      ? info.auto_accept || info.watch_read
      : info.role === "connected" && (info.watch_read || (info.auto_recv !== "off" && !info.eof)));
  const writes =
    !blockedOut &&
    (info.role === "connecting" || (info.role === "connected" && (info.watch_write || info.pending_out > 0)));
  return reads || writes;
}

export interface LoopCount {
  count: number;
  /** Quiet selects guessed since the last report (0: the count is the reported one). */
  quiet: number;
}

/**
 * Args:
 *   reported: the last iteration number the backend gave (a select event or the snapshot).
 *   sinceNs: the lab time of that report.
 *   nowNs: the lab time now (estimated between events).
 *   timeoutS: the loop's select() timeout.
 *   selecting: some socket is in select()'s lists, and the loop is not paused.
 */
export function loopCount(reported: number, sinceNs: number, nowNs: number, timeoutS: number, selecting: boolean): LoopCount {
  if (!selecting || timeoutS <= 0) return { count: reported, quiet: 0 };
  const quiet = Math.max(0, Math.floor((nowNs - sinceNs) / (timeoutS * 1e9)));
  return { count: reported + quiet, quiet };
}
