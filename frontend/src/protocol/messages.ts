// The websocket and REST envelopes around events (backend/sockscope/api/wire.py,
// api/routes.py and engine/lab.py `_snapshot`). Event types themselves are generated.
// Wire types only: the store imports them from here, never the other way round.
import type { Figures, LabEvent, SocketInfo } from "./events";

export interface BlockedCallInfo {
  call_id: number;
  op: string;
  line: string;
  since_ns: number;
}

export interface SocketSnapshot extends SocketInfo {
  figures: Figures | null;
  blocked: BlockedCallInfo[];
}

export interface LabSnapshot {
  id: string;
  schema_version: number;
  seq: number;
  t_ns: number;
  started_at: number;
  paused: boolean;
  iteration: number;
  sockets: SocketSnapshot[];
  port_range: [number, number];
  links?: LinkState[];
  network?: NetworkState | null;
}

/** One direction of a fault-injecting link (engine/link.py Link.public()). */
export interface FlowState {
  latency_ms: number;
  rate: number;
  slice: number;
  jitter: number;
  stalled: boolean;
  closing: boolean;
  held: number;
  moved: number;
}

/** A fault-injecting link as the engine describes it (engine/link.py Link.public()). */
export interface LinkState {
  name: string;
  listen: [string, number];
  target: [string, number];
  a: string | null;
  b: string | null;
  dead: boolean;
  up: FlowState;
  down: FlowState;
}

/** The lab's private network: whether its cable is in, and how the lab made it (engine/privnet.py). */
export interface NetworkState {
  plugged: boolean;
  how: string;
}

export interface Gap {
  from: number;
  to: number;
}

export type ServerMessage =
  | { type: "lab/snapshot"; schema_version: number; snapshot: LabSnapshot; gap: Gap | null }
  | { type: "events/batch"; events: LabEvent[] }
  | {
      type: "command/result";
      id: string | null;
      ok: boolean;
      result: unknown;
      error: CommandError | null;
      status: number;
      seqs: number[];
      blocked: boolean;
    }
  | { type: "error"; message: string };

export interface CommandError {
  errno: string | null;
  field?: string | null;
  message: string;
}

export interface CommandAnswer {
  ok: boolean;
  result: unknown;
  error: CommandError | null;
  events: LabEvent[];
  blocked?: boolean;
}

export type Command = { op: string; [field: string]: unknown };
