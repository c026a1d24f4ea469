// The websocket and REST envelopes around events (backend/sockscope/api/wire.py,
// api/routes.py and engine/lab.py `_snapshot`). Event types themselves are generated.
import type { Figures, LabEvent, SocketInfo } from "./events";
import type { LinkState } from "../store/lab";

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
  network?: { plugged: boolean; how: string } | null;
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
