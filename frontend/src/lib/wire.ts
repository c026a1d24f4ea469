/**
 * The wire lane's model (pure): the lab's captured segments grouped by connection, read
 * as ladder rows (a flood's runs of plain data and ACKs folded into one row), and linked
 * to the calls that caused them. The same rules as the server's pcapng comments
 * (backend/sockscope/export/causes.py), kept in step by the tests on both sides.
 */
import type { CallEvent, SegmentEvent } from "../protocol/events";

export interface Connection {
  /** Ports, low first: what the segments of one connection share. */
  key: string;
  /** The end that sent the first segment seen (the SYN's sender: the client), and the other. */
  left: string;
  right: string;
  leftPort: number;
  rightPort: number;
  segments: SegmentEvent[];
}

/** Two ports, low first: a connection's key, whichever end is asked about. */
export function pairKey(a: number, b: number): string {
  return a <= b ? `${a}-${b}` : `${b}-${a}`;
}

export function connectionKey(s: SegmentEvent): string {
  return pairKey(s.src[1], s.dst[1]);
}

/** A connection's end, named by the lab where it can (server ends change name at accept()). */
function endName(name: string | null, port: number): string {
  return name ?? `port ${port}`;
}

/** The lab's connections, in the order they first showed. A server end is named by the
 * accepted socket once there is one (the handshake's segments were its listener's). */
export function connections(segments: SegmentEvent[]): Connection[] {
  const byKey = new Map<string, Connection>();
  for (const s of segments) {
    const key = connectionKey(s);
    let c = byKey.get(key);
    if (!c) {
      c = {
        key,
        left: endName(s.sender, s.src[1]),
        right: endName(s.receiver, s.dst[1]),
        leftPort: s.src[1],
        rightPort: s.dst[1],
        segments: [],
      };
      byKey.set(key, c);
    }
    c.segments.push(s);
    // A later, more precise name (conn rather than srv) wins for the column's title.
    if (s.src[1] === c.leftPort && s.sender) c.left = s.sender;
    if (s.dst[1] === c.leftPort && s.receiver) c.left = s.receiver;
    if (s.src[1] === c.rightPort && s.sender) c.right = s.sender;
    if (s.dst[1] === c.rightPort && s.receiver) c.right = s.receiver;
  }
  return [...byKey.values()];
}

/** A segment that says nothing a ladder must show one by one: data or an ACK, no SYN, FIN
 * or RST, nothing noted (no retransmission, no zero window). */
export function plain(s: SegmentEvent): boolean {
  return s.notes.length === 0 && s.flags.split(" ").every((f) => f === "ACK" || f === "PSH");
}

export type LadderRow =
  | { kind: "segment"; segment: SegmentEvent }
  | {
      kind: "run";
      /** The seq of its first segment: the row's key, and what "expand" names. */
      id: number;
      segments: SegmentEvent[];
      /** Data segments and their bytes, by the port that sent them. */
      data: Map<number, { count: number; bytes: number }>;
      acks: number;
    };

/** Runs shorter than this are shown segment by segment. */
export const RUN_MIN = 6;

/** The ladder's rows: each segment, but for runs of at least RUN_MIN plain ones, folded
 * into one row unless ``expanded`` holds the run's id. */
export function ladderRows(segments: SegmentEvent[], expanded: ReadonlySet<number> = new Set()): LadderRow[] {
  const rows: LadderRow[] = [];
  let run: SegmentEvent[] = [];
  const flush = (): void => {
    const first = run[0];
    if (first && run.length >= RUN_MIN && !expanded.has(first.seq)) {
      const data = new Map<number, { count: number; bytes: number }>();
      let acks = 0;
      for (const s of run) {
        if (s.length === 0) {
          acks += 1;
          continue;
        }
        const d = data.get(s.src[1]) ?? { count: 0, bytes: 0 };
        d.count += 1;
        d.bytes += s.length;
        data.set(s.src[1], d);
      }
      rows.push({ kind: "run", id: first.seq, segments: run, data, acks });
    } else {
      for (const s of run) rows.push({ kind: "segment", segment: s });
    }
    run = [];
  };
  for (const s of segments) {
    if (plain(s)) {
      run.push(s);
      continue;
    }
    flush();
    rows.push({ kind: "segment", segment: s });
  }
  flush();
  return rows;
}

/** "seq 1:12" (data), "seq 0" (none): the bytes a segment's sequence numbers cover. */
export function seqText(s: SegmentEvent): string {
  return s.length ? `seq ${s.rel_seq}:${s.rel_seq + s.length}` : `seq ${s.rel_seq}`;
}

// --- links between the calls and the segments ------------------------------------------

export interface Links {
  /** segment seq -> the call ids that caused it */
  callsOf: Map<number, number[]>;
  /** call id -> the segment seqs it caused */
  segmentsOf: Map<number, number[]>;
}

interface Calls {
  connect: CallEvent[];
  listen: CallEvent[];
  closing: CallEvent[];
  recv: CallEvent[];
  sends: CallEvent[];
}

function before(calls: CallEvent[], at: number): CallEvent | undefined {
  for (let i = calls.length - 1; i >= 0; i--) {
    const c = calls[i] as CallEvent;
    if (c.started_ns <= at) return c;
  }
  return undefined;
}

const KERNEL_ONLY = ["window probe", "keepalive"];

/** Which calls caused which segments (the rules of causes.py): a SYN, the sender's
 * connect(); a SYN-ACK, its listener's listen(); data, the send() whose bytes it carried;
 * a FIN or RST, the sender's close() or shutdown(); a window update, its sender's last
 * recv() that read bytes. Probes and keepalives are the kernel's own. */
export function links(calls: CallEvent[], segments: SegmentEvent[]): Links {
  const bySocket = new Map<string, Calls>();
  for (const c of calls) {
    if (c.errno !== null && c.op !== "connect") continue;
    let mine = bySocket.get(c.socket);
    if (!mine) {
      mine = { connect: [], listen: [], closing: [], recv: [], sends: [] };
      bySocket.set(c.socket, mine);
    }
    if (c.op === "connect" || c.op === "connect_ex") mine.connect.push(c);
    else if (c.op === "listen") mine.listen.push(c);
    else if (c.op === "close" || c.op === "shutdown") mine.closing.push(c);
    else if ((c.op === "recv" || c.op === "recv_into") && c.done) mine.recv.push(c);
    else if (c.op.startsWith("send") && c.data && c.done) mine.sends.push(c);
  }
  const callsOf = new Map<number, number[]>();
  const segmentsOf = new Map<number, number[]>();
  for (const s of segments) {
    const mine = s.sender === null ? undefined : bySocket.get(s.sender);
    if (!mine || s.notes.some((n) => KERNEL_ONLY.includes(n))) continue;
    const flags = s.flags.split(" ");
    const found: CallEvent[] = [];
    const add = (c: CallEvent | undefined): void => {
      if (c) found.push(c);
    };
    if (flags.includes("SYN")) add(before(flags.includes("ACK") ? mine.listen : mine.connect, s.wire_ns));
    if (s.offset !== null) {
      const start = s.offset;
      const end = s.offset + s.length;
      // sends are in stream order: start at the last one that begins at or before `start`
      let lo = 0;
      let hi = mine.sends.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((mine.sends[mid]?.data?.offset ?? 0) <= start) lo = mid + 1;
        else hi = mid;
      }
      for (let i = Math.max(0, lo - 1); i < mine.sends.length; i++) {
        const c = mine.sends[i] as CallEvent;
        const first = c.data?.offset ?? 0;
        if (first >= end) break;
        if (start < first + (c.done ?? 0)) found.push(c);
      }
    }
    if (flags.includes("FIN") || flags.includes("RST")) add(before(mine.closing, s.wire_ns));
    if (s.notes.includes("window update")) add(before(mine.recv, s.wire_ns));
    if (found.length === 0) continue;
    callsOf.set(s.seq, found.map((c) => c.call_id));
    for (const c of found) {
      const list = segmentsOf.get(c.call_id) ?? [];
      list.push(s.seq);
      segmentsOf.set(c.call_id, list);
    }
  }
  return { callsOf, segmentsOf };
}

// --- the accept queue's slots ------------------------------------------------------------

export interface Queued {
  key: string;
  /** the client's port */
  port: number;
  /** the handshake's segments: SYN, SYN-ACK, and the ACK that put it in the queue */
  seqs: number[];
  /** when the ACK crossed: the moment the kernel queued the connection */
  at: number;
}

/**
 * The connections waiting in a listener's accept queue, oldest first (accept() takes the
 * oldest): those whose handshake completed on its port and that no socket of the lab
 * holds yet (`held`: connection keys of the accepted sockets), the newest `count` of them
 * (`count`: the queue's length as the kernel reports it; older ones were accepted and their
 * sockets are gone).
 */
export function queued(segments: SegmentEvent[], port: number, held: ReadonlySet<string>, count: number): Queued[] {
  const open = new Map<string, { syn?: SegmentEvent; synAck?: SegmentEvent; ack?: SegmentEvent; reset: boolean }>();
  for (const s of segments) {
    if (s.src[1] !== port && s.dst[1] !== port) continue;
    const key = connectionKey(s);
    const toListener = s.dst[1] === port;
    const flags = s.flags.split(" ");
    let c = open.get(key);
    if (flags.includes("SYN") && !flags.includes("ACK") && toListener) {
      if (!c || c.ack) open.set(key, (c = { syn: s, reset: false })); // a port used again: anew
      continue;
    }
    if (!c) continue;
    if (flags.includes("RST")) c.reset = true;
    else if (flags.includes("SYN") && !toListener) c.synAck = s;
    else if (c.synAck && !c.ack && toListener && flags.includes("ACK")) c.ack = s;
  }
  const done: Queued[] = [];
  for (const [key, c] of open) {
    if (!c.syn || !c.synAck || !c.ack || c.reset || held.has(key)) continue;
    const client = c.syn.src[1];
    done.push({ key, port: client, seqs: [c.syn.seq, c.synAck.seq, c.ack.seq], at: c.ack.wire_ns });
  }
  done.sort((a, b) => a.at - b.at);
  return count > 0 ? done.slice(-count) : [];
}
