/**
 * The lab store: events in, per-socket state and bounded series out. It knows
 * nothing of Svelte: views subscribe and read plain objects. Notifications are
 * coalesced (one per animation frame in the browser), so a flood of events
 * costs one redraw per frame.
 */
import type {
  CallEvent,
  CheckOutcome,
  CommandErrorEvent,
  Figures,
  LabEvent,
  LessonEvent,
  LingerEvent,
  NoticeEvent,
  ProbeEvent,
  SegmentEvent,
  SelectEvent,
  SocketInfo,
} from "../protocol/events";
import type {
  BlockedCallInfo,
  CaptureState,
  Gap,
  LabSnapshot,
  LinkState,
  NetworkState,
} from "../protocol/events";
import { Ring, Series } from "./ring";

export interface SocketState {
  info: SocketInfo;
  figures: Figures | null;
  blocked: Map<number, BlockedCallInfo>;
  /** send queue / receive queue over time: columns t (s), send_queue, recv_queue. */
  queues: Series;
  sentBytes: number;
  receivedBytes: number;
  /** What this socket's send() calls put in its stream, newest last (bounded). */
  sends: Ring<Segment>;
  /** Where this socket's recv() calls cut the stream it receives (bounded). */
  recvs: Ring<Segment>;
  closed: boolean;
  /** The most retransmissions TCP_INFO has reported (kept once the kernel stops reporting). */
  retransSeen: number;
}

export interface Segment {
  callId: number;
  seq: number;
  offset: number;
  len: number;
  asked: number | null;
  t: number;
}

export interface LessonProgress {
  id: string;
  state: "started" | "step" | "finished" | "failed";
  /** Index of the last step that ran (-1 before the first). */
  step: number;
  message: string;
  checks: CheckOutcome[];
  /** What each step that ran did, by step index. */
  steps: Map<number, { ok: boolean; message: string; data: LessonEvent["data"]; seq: number }>;
}

export type Scheduler = (flush: () => void) => void;

export const LIMITS = { calls: 4000, log: 4000, selects: 1000, series: 1200, segments: 400, wire: 4000 };

export class LabStore {
  id = "";
  seq = 0;
  tNs = 0;
  paused = false;
  iteration = 0;
  portRange: [number, number] = [20000, 20999];
  sockets = new Map<string, SocketState>();
  calls = new Ring<CallEvent>(LIMITS.calls);
  log = new Ring<LabEvent>(LIMITS.log);
  selects = new Ring<SelectEvent>(LIMITS.selects);
  messages = new Ring<CommandErrorEvent | NoticeEvent>(50);
  gaps: Gap[] = [];
  closed: string | null = null;
  lesson: LessonProgress | null = null;
  links = new Map<string, LinkState>();
  /** The lab's private network (its own 127.0.0.1 whose cable can be pulled out), once made. */
  network: NetworkState | null = null;
  /** Closed sockets whose connection the kernel still keeps (TIME_WAIT, FIN_WAIT2, ...). */
  lingering = new Map<string, { local: [string, number]; peer: [string, number]; state: string; since: number }>();
  /** What each closed socket sent and received in all: its history stays the lesson. */
  closedTotals = new Map<string, { sent: number; received: number }>();
  /** Each socket's TCP state as the kernel reported it, when it changed (probes), and a
   * closed socket's connection as the kernel still kept it (linger): the state diagram's
   * evidence where there is no capture, and its end (TIME_WAIT, then gone) where there is. */
  stateMarks = new Ring<ProbeEvent | LingerEvent>(LIMITS.selects);
  /** The wire lane: the TCP segments the lab captured, oldest first (bounded). */
  wire = new Ring<SegmentEvent>(LIMITS.wire);
  /** Whether the lab captures (and why not), with its counts; null before the first word. */
  capture: CaptureState | null = null;
  /** Bumped on every change; views compare it to decide to redraw. */
  version = 0;

  private listeners = new Set<() => void>();
  private scheduled = false;

  constructor(private schedule: Scheduler = defaultScheduler) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  applySnapshot(snapshot: LabSnapshot, gap: Gap | null = null): void {
    this.id = snapshot.id;
    this.seq = snapshot.seq;
    this.tNs = snapshot.t_ns;
    this.paused = snapshot.paused;
    this.iteration = snapshot.iteration;
    this.portRange = snapshot.port_range;
    this.links = new Map(snapshot.links.map((l) => [l.name, l]));
    this.network = snapshot.network;
    this.capture = snapshot.capture ?? null;
    if (gap) this.gaps.push(gap);
    const seen = new Set<string>();
    for (const entry of snapshot.sockets) {
      const { figures, blocked, ...info } = entry;
      const state = this.socket(info);
      state.info = info;
      state.figures = figures;
      state.retransSeen = Math.max(state.retransSeen, figures?.total_retrans ?? 0);
      state.closed = false;
      state.blocked = new Map(blocked.map((b) => [b.call_id, b]));
      seen.add(info.name);
    }
    for (const [name, state] of this.sockets) {
      if (!seen.has(name)) this.forget(state);
    }
    this.changed();
  }

  /**
   * Apply a batch in seq order. Returns false (and applies nothing) when the
   * batch does not follow on from what the store has: the caller resyncs.
   */
  applyEvents(events: LabEvent[]): boolean {
    const first = events[0];
    if (!first) return true;
    let expected = this.seq + 1;
    for (const event of events) {
      if (event.seq > expected) return false; // a hole: apply nothing, the caller resyncs
      expected = Math.max(expected, event.seq + 1);
    }
    for (const event of events) {
      if (event.seq <= this.seq) continue; // already applied (replayed after a snapshot)
      this.apply(event);
      this.seq = event.seq;
      this.tNs = event.t_ns;
    }
    this.changed();
    return true;
  }

  private apply(event: LabEvent): void {
    switch (event.kind) {
      case "call":
        this.onCall(event);
        break;
      case "call_started": {
        const state = this.sockets.get(event.socket);
        state?.blocked.set(event.call_id, {
          call_id: event.call_id,
          op: event.op,
          line: event.line,
          since_ns: event.t_ns,
        });
        this.log.push(event);
        break;
      }
      case "select":
        this.iteration = event.iteration;
        this.selects.push(event);
        this.log.push(event);
        break;
      case "socket": {
        this.lingering.delete(event.info.name); // the name is a live socket again
        if (!this.sockets.has(event.info.name)) this.closedTotals.delete(event.info.name);
        const state = this.socket(event.info);
        state.info = event.info;
        state.closed = false;
        break;
      }
      case "socket_closed": {
        const state = this.sockets.get(event.socket);
        if (state) this.forget(state);
        this.log.push(event);
        break;
      }
      case "probe": {
        const state = this.sockets.get(event.socket);
        if (state && state.figures?.state !== event.figures.state) this.stateMarks.push(event);
        if (state) {
          state.figures = event.figures;
          state.retransSeen = Math.max(state.retransSeen, event.figures.total_retrans ?? 0);
          state.queues.push([
            event.t_ns / 1e9,
            event.figures.send_queue ?? NaN,
            event.figures.recv_queue ?? NaN,
          ]);
        }
        break;
      }
      case "loop":
        this.paused = event.state !== "running";
        this.log.push(event);
        break;
      case "command_error":
      case "notice":
        this.messages.push(event);
        this.log.push(event);
        break;
      case "linger":
        this.stateMarks.push(event);
        if (event.state === null) this.lingering.delete(event.socket);
        else this.lingering.set(event.socket, { local: event.local, peer: event.peer, state: event.state, since: event.t_ns });
        break;
      case "link":
        this.links.set(event.link.name, event.link);
        break;
      case "network":
        this.network = event.state === "closed" ? null : { plugged: event.state === "plugged", how: event.how };
        this.log.push(event);
        break;
      case "segment":
        this.wire.push(event);
        break;
      case "capture": {
        const { kind: _kind, seq: _seq, t_ns: _t, ...state } = event;
        this.capture = state;
        break;
      }
      case "lesson": {
        if (event.state === "started" || this.lesson?.id !== event.lesson) {
          this.lesson = { id: event.lesson, state: event.state, step: -1, message: "", checks: [], steps: new Map() };
        }
        const lesson = this.lesson;
        lesson.state = event.state;
        lesson.message = event.message;
        lesson.checks = event.checks;
        if (event.step >= 0) {
          lesson.step = event.step;
          lesson.steps.set(event.step, { ok: event.ok, message: event.message, data: event.data, seq: event.seq });
        }
        this.log.push(event);
        break;
      }
      case "lab_closed":
        this.closed = event.reason;
        this.log.push(event);
        break;
      default:
        assertNever(event);
    }
  }

  private onCall(event: CallEvent): void {
    this.calls.push(event);
    this.log.push(event);
    const state = this.sockets.get(event.socket);
    if (!state) return;
    state.blocked.delete(event.call_id);
    const data = event.data;
    if (!data || event.done === null) return;
    const segment: Segment = {
      callId: event.call_id,
      seq: event.seq,
      offset: data.offset,
      len: data.len,
      asked: event.asked,
      t: event.t_ns / 1e9,
    };
    if (event.op === "send" || event.op === "sendall" || event.op === "sendto") {
      // A loop-driven sendall's closing event carries no data (its send()s did);
      // a blocking sendall is one call that carries all of it.
      state.sends.push(segment);
      state.sentBytes = Math.max(state.sentBytes, data.offset + data.len);
    } else if (event.op === "recv" || event.op === "recvfrom") {
      state.recvs.push(segment);
      state.receivedBytes = Math.max(state.receivedBytes, data.offset + data.len);
    }
  }

  /** A socket is gone: drop its live state, keep what it moved. */
  private forget(state: SocketState): void {
    state.closed = true;
    this.sockets.delete(state.info.name);
    if (state.sentBytes || state.receivedBytes) {
      this.closedTotals.set(state.info.name, { sent: state.sentBytes, received: state.receivedBytes });
    }
  }

  private socket(info: SocketInfo): SocketState {
    let state = this.sockets.get(info.name);
    if (!state) {
      state = {
        info,
        figures: null,
        blocked: new Map(),
        queues: new Series(LIMITS.series, 3),
        sentBytes: 0,
        receivedBytes: 0,
        sends: new Ring(LIMITS.segments),
        recvs: new Ring(LIMITS.segments),
        closed: false,
        retransSeen: 0,
      };
      this.sockets.set(info.name, state);
    }
    return state;
  }

  /** The lab socket at the other end of `name`'s connection, if it is in this lab. */
  peerOf(name: string): SocketState | undefined {
    const me = this.sockets.get(name)?.info;
    if (!me?.peer || !me.local) return undefined;
    for (const other of this.sockets.values()) {
      const o = other.info;
      if (o.network !== me.network) continue; // the same address in two networks is two places
      if (o.local && o.peer && sameAddr(o.local, me.peer) && sameAddr(o.peer, me.local)) {
        return other;
      }
    }
    return undefined;
  }

  private changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }
}

/** One address, however a socket writes it: an IPv6 socket writes an IPv4 peer as
 * ::ffff:127.0.0.1 (IPv4-mapped), the IPv4 socket at the other end as 127.0.0.1. */
export function sameAddr(a: [string, number], b: [string, number]): boolean {
  return unmapped(a[0]) === unmapped(b[0]) && a[1] === b[1];
}

function unmapped(host: string): string {
  return host.toLowerCase().startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}

function assertNever(value: never): never {
  throw new Error(`unhandled event ${JSON.stringify(value)}`);
}

function defaultScheduler(flush: () => void): void {
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(flush);
  else queueMicrotask(flush);
}
