/**
 * The channel to one lab: a websocket that delivers a snapshot, then event
 * batches. It asks for `?after=<last seq>` (0 at first); on a drop it reconnects and resumes with
 * nothing lost (or takes the fresh snapshot the server sends when the gap is
 * too old). Commands go over REST, so an answer never waits on the stream.
 * No DOM here: the socket factory and timers are injectable for tests.
 * (A "link", in this code base, is the lab's fault-injecting relay; this is the page's channel.)
 */
import { SCHEMA_VERSION } from "../protocol/events";
import type { Command, CommandAnswer, LabEvent, ServerMessage } from "../protocol/events";
import { RowStrings, eventsOfRows } from "../protocol/rows";
import type { LabStore } from "../store/lab";

export type ChannelStatus = "connecting" | "live" | "reconnecting" | "gone" | "refused" | "closed";

export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}

export interface ChannelOptions {
  base?: string; // "" in the browser: same origin
  openSocket?: (url: string) => SocketLike;
  fetchImpl?: typeof fetch;
  setTimer?: (fn: () => void, ms: number) => unknown;
  onStatus?: (status: ChannelStatus, detail: string) => void;
  /** An observer link's token, sent as ?observe= (the server has no cookie for observers). */
  observe?: string | null;
}

const GONE = 4404;
const LAB_CLOSED = 4410;
// A room lab refuses a viewer without its participant's (or an observer's) token: 4000 + the
// HTTP status. Retrying would not help.
const NOT_YOURS = [4401, 4403];

export class LabChannel {
  status: ChannelStatus = "connecting";
  private socket: SocketLike | null = null;
  private attempts = 0;
  private stopped = false;
  private strings = new RowStrings();
  private readonly opts: Required<Omit<ChannelOptions, "observe">>;
  private readonly observe: string | null;

  constructor(
    readonly labId: string,
    readonly store: LabStore,
    options: ChannelOptions = {},
  ) {
    this.opts = {
      base: options.base ?? "",
      openSocket: options.openSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike),
      fetchImpl: options.fetchImpl ?? ((...args) => fetch(...args)),
      setTimer: options.setTimer ?? ((fn, ms) => setTimeout(fn, ms)),
      onStatus: options.onStatus ?? (() => {}),
    };
    this.observe = options.observe ?? null;
  }

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.setStatus("closed", "");
  }

  async command(command: Command): Promise<CommandAnswer & { status: number }> {
    const response = await this.opts.fetchImpl(
      `${this.opts.base}/api/labs/${encodeURIComponent(this.labId)}/commands`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(command),
      },
    );
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: answered below
    }
    if (!isAnswer(body)) {
      const detail = (body as { detail?: unknown } | null)?.detail;
      const message = typeof detail === "string" ? detail : `the server answered ${response.status}`;
      return { ok: false, result: null, error: { errno: null, message }, events: [], status: response.status };
    }
    return { ...body, status: response.status };
  }

  private url(): string {
    const loc = typeof location === "undefined" ? null : location;
    let base = this.opts.base;
    if (!base && loc) base = `${loc.protocol}//${loc.host}`;
    const wsBase = base.replace(/^http/, "ws");
    // From 0 the first time: the server replays the whole log when it still holds it
    // (so a reload shows the lab's history), else sends a snapshot and the gap.
    const observe = this.observe ? `&observe=${encodeURIComponent(this.observe)}` : "";
    // rows=1: a flood's events come as arrays of numbers (protocol/rows.ts), a fraction of
    // the objects' bytes and of the server's time to make them.
    return `${wsBase}/api/labs/${encodeURIComponent(this.labId)}/ws?after=${this.store.seq}&rows=1${observe}`;
  }

  private open(): void {
    if (this.stopped) return;
    this.setStatus(this.attempts ? "reconnecting" : "connecting", "");
    const socket = this.opts.openSocket(this.url());
    this.socket = socket;
    this.strings = new RowStrings(); // a connection's rows name the strings it was sent
    socket.onopen = () => {
      this.attempts = 0;
      this.setStatus("live", "");
    };
    socket.onmessage = (ev) => this.receive(String(ev.data));
    socket.onerror = () => {};
    socket.onclose = (ev) => {
      if (this.socket !== socket || this.stopped) return;
      if (ev.code === GONE || ev.code === LAB_CLOSED) {
        this.stopped = true;
        this.setStatus("gone", ev.reason || "this lab no longer exists");
        return;
      }
      if (NOT_YOURS.includes(ev.code)) {
        this.stopped = true;
        this.setStatus("refused", ev.reason || "this lab belongs to a room participant");
        return;
      }
      this.attempts++;
      const delay = Math.min(5000, 250 * 2 ** Math.min(this.attempts, 5));
      this.setStatus("reconnecting", `connection lost; retrying in ${(delay / 1000).toFixed(1)} s`);
      this.opts.setTimer(() => this.open(), delay);
    };
  }

  private receive(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return; // not ours to show; the stream goes on
    }
    switch (message.type) {
      case "lab/snapshot":
        if (message.schema_version !== SCHEMA_VERSION) {
          this.setStatus(this.status, `the server speaks event schema ${message.schema_version}, this page ${SCHEMA_VERSION}: reload the page`);
        }
        this.store.applySnapshot(message.snapshot, message.gap);
        break;
      case "events/batch":
        if (!this.store.applyEvents(message.events)) {
          // A hole: reconnect from our cursor; the server fills it or sends a snapshot.
          this.socket?.close();
        }
        break;
      case "events/rows": {
        let events: LabEvent[];
        try {
          events = eventsOfRows(message, this.strings);
        } catch {
          this.socket?.close(); // rows this page cannot read: start over from the cursor
          return;
        }
        if (!this.store.applyEvents(events)) this.socket?.close(); // a hole, as above
        break;
      }
      case "command/result":
      case "error":
        break;
      default:
        assertNever(message);
    }
  }

  private setStatus(status: ChannelStatus, detail: string): void {
    this.status = status;
    this.opts.onStatus(status, detail);
  }
}

function isAnswer(body: unknown): body is CommandAnswer {
  return typeof body === "object" && body !== null && typeof (body as CommandAnswer).ok === "boolean";
}

function assertNever(value: never): never {
  throw new Error(`unknown message ${JSON.stringify(value)}`);
}
