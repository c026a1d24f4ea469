/**
 * A socket's path through TCP's states (RFC 9293, 3.3.2), worked out from what the lab saw
 * (pure): its calls (listen, connect, close, shutdown), the segments it sent and received
 * on the wire, and the kernel's word once the program has closed it (the `linger` events:
 * TIME_WAIT, then gone). Each step names what caused it, so a participant reads "FIN
 * received" next to the arrow from ESTABLISHED to CLOSE_WAIT. Without a capture, the
 * probes' readings of the state stand in for the segments.
 */
import type { CallEvent, LingerEvent, ProbeEvent, SegmentEvent } from "../protocol/events";

export type TcpState =
  | "CLOSED"
  | "LISTEN"
  | "SYN_SENT"
  | "SYN_RECEIVED"
  | "ESTABLISHED"
  | "FIN_WAIT_1"
  | "FIN_WAIT_2"
  | "CLOSING"
  | "TIME_WAIT"
  | "CLOSE_WAIT"
  | "LAST_ACK";

export const STATES: TcpState[] = [
  "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
  "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK",
];

export interface Step {
  from: TcpState;
  to: TcpState;
  /** lab clock, ns */
  at: number;
  why: string;
  /** the event that caused it (a call's or a segment's seq) */
  seq: number;
}

/** The kernel's names (TCP_INFO, /proc) for RFC 9293's. */
const KERNEL: Record<string, TcpState> = {
  CLOSE: "CLOSED",
  LISTEN: "LISTEN",
  SYN_SENT: "SYN_SENT",
  SYN_RECV: "SYN_RECEIVED",
  ESTABLISHED: "ESTABLISHED",
  FIN_WAIT1: "FIN_WAIT_1",
  FIN_WAIT2: "FIN_WAIT_2",
  CLOSING: "CLOSING",
  TIME_WAIT: "TIME_WAIT",
  CLOSE_WAIT: "CLOSE_WAIT",
  LAST_ACK: "LAST_ACK",
};

export function fromKernel(name: string | null | undefined): TcpState | null {
  return name ? (KERNEL[name] ?? null) : null;
}

export interface Inputs {
  calls: CallEvent[];
  segments: SegmentEvent[];
  lingers: LingerEvent[];
  probes: ProbeEvent[];
}

type Item =
  | { kind: "call"; at: number; e: CallEvent }
  | { kind: "segment"; at: number; e: SegmentEvent }
  | { kind: "linger"; at: number; e: LingerEvent }
  | { kind: "probe"; at: number; e: ProbeEvent };

/**
 * The steps of `name`'s path. `ports`: its local and remote port once connected (the
 * segments of that pair are its own, the handshake's too, which the lab names after the
 * listener); `listener`: for an accepted socket, the listener it came from.
 */
export function statePath(
  name: string,
  ports: [number, number] | null,
  inputs: Inputs,
  listener: string | null = null,
  listening = false,
): Step[] {
  const items: Item[] = [];
  for (const e of inputs.calls) if (e.socket === name) items.push({ kind: "call", at: e.started_ns, e });
  for (const e of inputs.lingers) if (e.socket === name) items.push({ kind: "linger", at: e.t_ns, e });
  for (const e of inputs.probes) if (e.socket === name) items.push({ kind: "probe", at: e.t_ns, e });
  const mine = (s: SegmentEvent): boolean => {
    if (ports) {
      const [local, remote] = ports;
      return (s.src[1] === local && s.dst[1] === remote) || (s.src[1] === remote && s.dst[1] === local);
    }
    return s.sender === name || s.receiver === name;
  };
  // A listening socket's own state is LISTEN throughout: the handshakes its port sees are
  // its children's (the sockets accept() returns), drawn on theirs.
  const wired = !listening && inputs.segments.some(mine);
  if (wired) for (const e of inputs.segments) if (mine(e)) items.push({ kind: "segment", at: e.wire_ns, e });
  items.sort((a, b) => a.at - b.at);

  const steps: Step[] = [];
  let state = (listener && ports ? "LISTEN" : "CLOSED") as TcpState; // (as: `go` changes it)
  let finSeq: number | null = null; // the seq number our FIN took
  let pendingClose: CallEvent | null = null; // the call whose FIN is still to be seen
  const go = (to: TcpState, at: number, why: string, seq: number): void => {
    if (to === state) return;
    steps.push({ from: state, to, at, why, seq });
    state = to;
  };
  const localPort = ports?.[0];
  for (const item of items) {
    if (item.kind === "call") {
      const c = item.e;
      if (c.op === "listen" && !c.errno) go("LISTEN", item.at, `${c.line} called`, c.seq);
      else if (c.op === "connect" && (!c.errno || c.errno === "EINPROGRESS") && state === "CLOSED") {
        go("SYN_SENT", item.at, `${c.line}: SYN sent`, c.seq);
      } else if ((c.op === "close" || c.op === "shutdown") && !c.errno) {
        pendingClose = c;
        if (!wired && (state === "ESTABLISHED" || state === "CLOSE_WAIT") && c.op === "close") {
          // no capture: the call is the evidence that a FIN went out
          go(state === "ESTABLISHED" ? "FIN_WAIT_1" : "LAST_ACK", item.at, `${c.line}: FIN sent`, c.seq);
        }
      }
      continue;
    }
    if (item.kind === "linger") {
      const to = fromKernel(item.e.state);
      if (to === null) go("CLOSED", item.at, state === "TIME_WAIT" ? "TIME_WAIT's timer ran out" : "the kernel let the connection go", item.e.seq);
      else if (!wired) go(to, item.at, "seen in the kernel's table", item.e.seq);
      else if (to === "TIME_WAIT" && state === "FIN_WAIT_2") go(to, item.at, "FIN received", item.e.seq);
      continue;
    }
    if (item.kind === "probe") {
      const to = fromKernel(item.e.figures.state);
      if (!wired && to && to !== "CLOSED") go(to, item.at, "seen by the probe (no capture)", item.e.seq);
      continue;
    }
    const s = item.e;
    const flags = s.flags.split(" ");
    const sent = localPort !== undefined ? s.src[1] === localPort : s.sender === name;
    const syn = flags.includes("SYN");
    const ack = flags.includes("ACK");
    const fin = flags.includes("FIN");
    if (flags.includes("RST")) {
      go("CLOSED", item.at, sent ? "RST sent" : "RST received", s.seq);
      continue;
    }
    if (sent) {
      if (syn && !ack && state === "CLOSED") go("SYN_SENT", item.at, "SYN sent", s.seq);
      if (fin) {
        finSeq = s.rel_seq + s.length;
        const by = pendingClose ? `${pendingClose.line}: FIN sent` : "FIN sent";
        if (state === "ESTABLISHED" || state === "SYN_RECEIVED") go("FIN_WAIT_1", item.at, by, s.seq);
        else if (state === "CLOSE_WAIT") go("LAST_ACK", item.at, by, s.seq);
      }
      continue;
    }
    // received
    const acksOurFin = finSeq !== null && ack && s.rel_ack !== null && s.rel_ack > finSeq;
    if (syn && !ack && (state === "LISTEN" || state === "CLOSED")) {
      go("SYN_RECEIVED", item.at, "SYN received (SYN-ACK sent)", s.seq);
    } else if (syn && ack && state === "SYN_SENT") {
      go("ESTABLISHED", item.at, "SYN-ACK received (ACK sent)", s.seq);
    } else if (state === "SYN_RECEIVED" && ack && !syn) {
      go("ESTABLISHED", item.at, "ACK of the SYN-ACK received", s.seq);
    }
    if (fin) {
      if (state === "ESTABLISHED") go("CLOSE_WAIT", item.at, "FIN received", s.seq);
      else if (state === "FIN_WAIT_1") go(acksOurFin ? "TIME_WAIT" : "CLOSING", item.at, "FIN received", s.seq);
      else if (state === "FIN_WAIT_2") go("TIME_WAIT", item.at, "FIN received", s.seq);
    } else if (acksOurFin) {
      if (state === "FIN_WAIT_1") go("FIN_WAIT_2", item.at, "ACK of our FIN received", s.seq);
      else if (state === "CLOSING") go("TIME_WAIT", item.at, "ACK of our FIN received", s.seq);
      else if (state === "LAST_ACK") go("CLOSED", item.at, "ACK of our FIN received", s.seq);
    }
  }
  return steps;
}

/** Linux keeps a connection in TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN). */
export const TIME_WAIT_NS = 60e9;
