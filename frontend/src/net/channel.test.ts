import { describe, expect, it } from "vitest";
import type { CallEvent, LabEvent } from "../protocol/events";
import type { Command, LabSnapshot, ServerMessage } from "../protocol/events";
import { LabStore } from "../store/lab";
import { socketInfo } from "../testing/fixtures";
import { LabChannel, type ChannelStatus, type SocketLike } from "./channel";

// --- fakes ------------------------------------------------------------------------------

/**
 * A websocket driven by the test, playing the server. Like a browser's, close() only asks
 * for the close: the close event comes later, when the test calls `closed()`.
 */
class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closeCalls = 0;

  constructor(readonly url: string) {}

  close(): void {
    this.closeCalls++;
  }

  opened(): void {
    this.onopen?.({});
  }

  deliver(message: ServerMessage): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  closed(code = 1006, reason = ""): void {
    this.onclose?.({ code, reason });
  }
}

/** Timers collected, run by hand. */
class FakeTimers {
  pending: Array<{ fn: () => void; ms: number }> = [];

  readonly setTimer = (fn: () => void, ms: number): unknown => {
    this.pending.push({ fn, ms });
    return this.pending.length;
  };

  runAll(): void {
    const due = this.pending;
    this.pending = [];
    for (const timer of due) timer.fn();
  }
}

// --- messages, as the server sends them ----------------------------------------------------

function snapshot(seq: number): LabSnapshot {
  return {
    id: "lab-1",
    schema_version: 1,
    seq,
    t_ns: seq * 1000,
    started_at: 1_700_000_000,
    paused: false,
    iteration: 0,
    sockets: [
      {
        ...socketInfo("cli", { fd: 6, local: ["127.0.0.1", 51234], peer: ["127.0.0.1", 40000] }),
        figures: null,
        blocked: [],
      },
    ],
    port_range: [40000, 40199],
    links: [],
    network: null,
    capture: { state: "on", reason: null, frames: 0, kept: 0, dropped_kept: 0, dropped_kernel: 0, cut: 0 },
  };
}

function sendCall(seq: number): CallEvent {
  return {
    kind: "call",
    seq,
    t_ns: seq * 1000,
    call_id: seq,
    socket: "cli",
    op: "send",
    line: "cli.send(pattern(10))",
    via: "command",
    asked: 10,
    done: 10,
    data: { len: 10, offset: (seq - 1) * 10, head: "b'0000000|00'", truncated: false, hex: null },
    result: 10,
    result_text: "10",
    errno: null,
    error: null,
    started_ns: seq * 1000 - 50,
    duration_ns: 50,
  };
}

const snapshotMessage = (seq: number, gap: { from: number; to: number } | null = null): ServerMessage => ({
  type: "lab/snapshot",
  schema_version: 1,
  snapshot: snapshot(seq),
  gap,
});

function batch(from: number, to: number): ServerMessage {
  const events: LabEvent[] = [];
  for (let seq = from; seq <= to; seq++) events.push(sendCall(seq));
  return { type: "events/batch", events };
}

function setup(base = "http://lab.test", labId = "lab-1", observe: string | null = null) {
  const sockets: FakeSocket[] = [];
  const timers = new FakeTimers();
  const statuses: Array<[ChannelStatus, string]> = [];
  const store = new LabStore(() => {});
  const channel = new LabChannel(labId, store, {
    base,
    openSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    setTimer: timers.setTimer,
    onStatus: (status, detail) => statuses.push([status, detail]),
    observe,
  });
  const latest = (): FakeSocket => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error("the channel opened no socket");
    return socket;
  };
  return { sockets, timers, statuses, store, channel, latest };
}

const seqsOf = (store: LabStore): number[] => store.calls.toArray().map((c) => c.seq);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

// --- the stream ----------------------------------------------------------------------------

describe("LabChannel stream", () => {
  it("first connects with ?after=0, asking for the whole log (a reload shows the history)", () => {
    const { channel, sockets, statuses } = setup();
    channel.start();
    expect(sockets.map((s) => s.url)).toEqual(["ws://lab.test/api/labs/lab-1/ws?after=0&rows=1"]);
    expect(channel.status).toBe("connecting");
    expect(statuses).toEqual([["connecting", ""]]);
  });

  it("uses wss for an https base and escapes the lab id", () => {
    const { channel, latest } = setup("https://lab.test", "a b/c");
    channel.start();
    expect(latest().url).toBe("wss://lab.test/api/labs/a%20b%2Fc/ws?after=0&rows=1");
  });

  it("goes live on open; a snapshot then batches fill the store", () => {
    const { channel, latest, store } = setup();
    channel.start();
    latest().opened();
    expect(channel.status).toBe("live");

    latest().deliver(snapshotMessage(5));
    expect(store.seq).toBe(5);
    expect(store.sockets.has("cli")).toBe(true);

    latest().deliver(batch(6, 8));
    latest().deliver(batch(9, 9));
    expect(store.seq).toBe(9);
    expect(seqsOf(store)).toEqual([6, 7, 8, 9]);
    expect(store.sockets.get("cli")?.sentBytes).toBe(90);
  });

  it("after an unexpected close, reconnects with ?after=<store.seq> and resumes with nothing lost", () => {
    const { channel, sockets, timers, statuses, store, latest } = setup();
    channel.start();
    latest().opened();
    latest().deliver(snapshotMessage(5));
    latest().deliver(batch(6, 12));

    latest().closed(1006);
    expect(channel.status).toBe("reconnecting");
    expect(statuses.at(-1)?.[1]).toMatch(/connection lost; retrying in \d/);
    expect(sockets).toHaveLength(1); // waits for its timer
    expect(timers.pending).toHaveLength(1);

    timers.runAll();
    expect(sockets).toHaveLength(2);
    expect(latest().url).toBe("ws://lab.test/api/labs/lab-1/ws?after=12&rows=1");
    expect(channel.status).toBe("reconnecting");
    latest().opened();
    expect(channel.status).toBe("live");

    latest().deliver(batch(13, 20)); // the server resumes after 12, no snapshot
    expect(seqsOf(store)).toEqual(range(6, 20));
    expect(statuses.map(([status]) => status)).toEqual([
      "connecting",
      "live",
      "reconnecting",
      "reconnecting",
      "live",
    ]);
  });

  it("a drop before any event reconnects from the start again (?after=0)", () => {
    const { channel, timers, latest } = setup();
    channel.start();
    latest().opened();
    latest().closed(1006);
    timers.runAll();
    expect(latest().url).toBe("ws://lab.test/api/labs/lab-1/ws?after=0&rows=1");
  });

  it("takes a fresh snapshot with a gap when the server could not resume", () => {
    const { channel, timers, store, latest } = setup();
    channel.start();
    latest().opened();
    latest().deliver(snapshotMessage(5));
    latest().closed(1006);
    timers.runAll();
    latest().opened();
    latest().deliver(snapshotMessage(9000, { from: 6, to: 8000 }));
    latest().deliver(batch(9001, 9002));
    expect(store.gaps).toEqual([{ from: 6, to: 8000 }]);
    expect(store.seq).toBe(9002);
  });

  it("backs off longer after each failed attempt, within 5 s, and starts over once connected", () => {
    const { channel, timers, latest } = setup();
    channel.start();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      latest().closed(1006);
      delays.push(timers.pending[0]?.ms ?? -1);
      timers.runAll();
    }
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
    expect(delays[0]).toBeGreaterThan(0);
    expect(delays.at(-1)).toBeGreaterThan(delays[0] ?? 0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5000);

    latest().opened();
    latest().closed(1006);
    expect(timers.pending[0]?.ms).toBe(delays[0]);
  });

  it.each([
    [4404, "no such lab"],
    [4410, "lab closed"],
  ])("close code %i: status gone, with the reason, and no reconnect", (code, reason) => {
    const { channel, sockets, timers, statuses, latest } = setup();
    channel.start();
    latest().opened();
    latest().deliver(snapshotMessage(5));
    latest().closed(code, reason);
    expect(channel.status).toBe("gone");
    expect(statuses.at(-1)).toEqual(["gone", reason]);
    expect(timers.pending).toHaveLength(0);
    expect(sockets).toHaveLength(1);
  });

  it.each([
    [4401, "this lab belongs to a room participant: send its token"],
    [4403, "this lab belongs to another participant"],
  ])("close code %i (a room lab, not this viewer's): refused, with the reason, no reconnect", (code, reason) => {
    const { channel, sockets, timers, statuses, latest } = setup();
    channel.start();
    latest().closed(code, reason);
    expect(channel.status).toBe("refused");
    expect(statuses.at(-1)).toEqual(["refused", reason]);
    expect(timers.pending).toHaveLength(0);
    expect(sockets).toHaveLength(1);
  });

  it("an observer's token goes on the websocket's address", () => {
    const { channel, latest } = setup("http://lab.test", "lab-1", "tok/en");
    channel.start();
    expect(latest().url).toBe("ws://lab.test/api/labs/lab-1/ws?after=0&rows=1&observe=tok%2Fen");
  });

  it("close code 4404 without a reason still says why", () => {
    const { channel, statuses, latest } = setup();
    channel.start();
    latest().closed(4404);
    expect(channel.status).toBe("gone");
    expect(statuses.at(-1)?.[1]).not.toBe("");
  });

  it("a batch with a hole closes the socket and resumes from the store's cursor", () => {
    const { channel, sockets, timers, store, latest } = setup();
    channel.start();
    latest().opened();
    latest().deliver(snapshotMessage(5));
    latest().deliver(batch(6, 10));

    const first = latest();
    first.deliver(batch(13, 15)); // 11 and 12 went missing
    expect(first.closeCalls).toBe(1);
    expect(store.seq).toBe(10); // nothing of the bad batch applied
    expect(seqsOf(store)).toEqual(range(6, 10));

    first.closed(1005); // the browser reports the close the channel asked for
    timers.runAll();
    expect(sockets).toHaveLength(2);
    expect(latest().url).toBe("ws://lab.test/api/labs/lab-1/ws?after=10&rows=1");
    latest().opened();
    latest().deliver(batch(11, 15));
    expect(seqsOf(store)).toEqual(range(6, 15));
  });

  it("reads rows with the strings its connection was sent; a new connection starts a new table", () => {
    const { store, channel, sockets, timers, latest } = setup();
    channel.start();
    latest().opened();
    latest().deliver(snapshotMessage(5));
    const site = ["cli", "send", "cli.send(view[", ":])"];
    const sendRow = (offset: number) => [1, 1, 2, 1, offset, 10, 10, offset, 1, 1, 0, 0, 1];
    latest().deliver({ type: "events/rows", first: 6, strings: { from: 0, values: [null, site] }, events: [sendRow(0), sendRow(10)] });
    expect(seqsOf(store)).toEqual([6, 7]);
    expect(store.calls.toArray()[1]?.line).toBe("cli.send(view[10:])");
    latest().deliver({ type: "events/rows", first: 8, strings: { from: 2, values: [] }, events: [sendRow(20)] });
    expect(seqsOf(store)).toEqual([6, 7, 8]);

    latest().deliver({ type: "events/rows", first: 10, strings: { from: 2, values: [] }, events: [sendRow(30)] });
    expect(latest().closeCalls).toBe(1); // 9 went missing: nothing applied, resume from 8
    latest().closed(1005);
    timers.runAll();
    latest().opened();
    // The new connection's table is empty: a row naming string 1 before it was sent is unreadable.
    latest().deliver({ type: "events/rows", first: 9, strings: { from: 0, values: [null] }, events: [sendRow(30)] });
    expect(latest().closeCalls).toBe(1);
    expect(seqsOf(store)).toEqual([6, 7, 8]);
    expect(sockets).toHaveLength(2);
  });

  it("stop() closes the socket and never reconnects, even with a retry pending", () => {
    const { channel, sockets, timers, latest } = setup();
    channel.start();
    latest().opened();
    latest().closed(1006); // a retry is now pending
    channel.stop();
    expect(channel.status).toBe("closed");
    timers.runAll();
    expect(sockets).toHaveLength(1);

    const other = setup();
    other.channel.start();
    other.latest().opened();
    other.channel.stop();
    expect(other.latest().closeCalls).toBe(1);
    other.latest().closed(1000);
    expect(other.channel.status).toBe("closed");
    expect(other.timers.pending).toHaveLength(0);
  });
});

// --- commands ------------------------------------------------------------------------------

interface FetchCall {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that records what it was asked and answers with a canned Response. */
function fakeFetch(answer: () => Response): { calls: FetchCall[]; fetchImpl: typeof fetch } {
  const calls: FetchCall[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    calls.push({ url: String(input), init });
    return answer();
  };
  return { calls, fetchImpl };
}

function channelWith(fetchImpl: typeof fetch, labId = "lab-1"): LabChannel {
  return new LabChannel(labId, new LabStore(() => {}), {
    base: "http://lab.test",
    fetchImpl,
    openSocket: () => {
      throw new Error("commands must not open a websocket");
    },
    setTimer: () => {
      throw new Error("commands must not set timers");
    },
  });
}

const json = (body: unknown, status: number): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("LabChannel.command", () => {
  it("POSTs the command as JSON to /api/labs/<id>/commands and returns the answer with its status", async () => {
    const event = sendCall(7);
    const { calls, fetchImpl } = fakeFetch(() =>
      json({ ok: true, result: 10, error: null, events: [event] }, 200),
    );
    const command: Command = { op: "send", socket: "cli", size: 10 };
    const answer = await channelWith(fetchImpl, "lab 1").command(command);

    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("http://lab.test/api/labs/lab%201/commands");
    expect(calls[0]?.init?.method).toBe("POST");
    expect(new Headers(calls[0]?.init?.headers).get("content-type")).toBe("application/json");
    expect(JSON.parse(String(calls[0]?.init?.body))).toEqual(command);
    expect(answer).toEqual({ ok: true, result: 10, error: null, events: [event], status: 200 });
  });

  it("passes a refused command's error and 4xx status through", async () => {
    const error = { errno: null, field: "size", message: "size must be at most 16777216" };
    const { fetchImpl } = fakeFetch(() => json({ ok: false, result: null, error, events: [] }, 400));
    const answer = await channelWith(fetchImpl).command({ op: "send", socket: "cli", size: 1e12 });
    expect(answer.status).toBe(400);
    expect(answer.ok).toBe(false);
    expect(answer.error).toEqual(error);
  });

  it("turns a body that is not JSON into a readable error", async () => {
    const { fetchImpl } = fakeFetch(
      () => new Response("<html><body>502 Bad Gateway</body></html>", { status: 502 }),
    );
    const answer = await channelWith(fetchImpl).command({ op: "recv", socket: "cli", bufsize: 4096 });
    expect(answer).toEqual({
      ok: false,
      result: null,
      error: { errno: null, message: "the server answered 502" },
      events: [],
      status: 502,
    });
  });

  // Regression, fixed (client.ts command): any JSON body is returned as a CommandAnswer unchecked. A JSON
  // error that is not one, e.g. Starlette's own `{"detail": "Not Found"}` (a wrong base or a
  // proxy in front), comes back with `ok` and `error` undefined, so a caller doing
  // `if (!answer.ok) show(answer.error.message)` throws. Expected: the same readable
  // fallback as for a non-JSON body.
  it("turns a JSON body that is not a command answer into a readable error", async () => {
    const { fetchImpl } = fakeFetch(() => json({ detail: "Not Found" }, 404));
    const answer = await channelWith(fetchImpl).command({ op: "recv", socket: "cli", bufsize: 4096 });
    expect(answer.ok).toBe(false);
    expect(answer.error?.message).toMatch(/404|Not Found/);
    expect(answer.events).toEqual([]);
  });
});
