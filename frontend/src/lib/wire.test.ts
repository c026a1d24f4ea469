import { describe, expect, it } from "vitest";
import type { CallEvent, SegmentEvent } from "../protocol/events";
import { connections, ladderRows, links, plain, queued, RUN_MIN, seqText } from "./wire";

type Addr = [string, number];
const CLI: Addr = ["127.0.0.1", 51234];
const SRV: Addr = ["127.0.0.1", 20000];

let seq = 0;

function seg(sender: string, receiver: string, flags: string, over: Partial<SegmentEvent> = {}): SegmentEvent {
  seq += 1;
  const fromCli = sender === "cli";
  return {
    kind: "segment",
    seq,
    t_ns: seq * 1000,
    wire_ns: seq * 1000 - 10,
    frame: seq,
    sender,
    receiver,
    src: fromCli ? CLI : SRV,
    dst: fromCli ? SRV : CLI,
    flags,
    rel_seq: 1,
    rel_ack: 1,
    length: 0,
    window: 65536,
    wscale: null,
    mss: null,
    offset: null,
    notes: [],
    ...over,
  };
}

function call(socket: string, op: string, over: Partial<CallEvent> = {}): CallEvent {
  seq += 1;
  return {
    kind: "call",
    seq,
    t_ns: seq * 1000,
    call_id: seq,
    socket,
    op,
    line: `${socket}.${op}()`,
    via: "command",
    asked: null,
    done: null,
    data: null,
    result: null,
    result_text: "None",
    errno: null,
    error: null,
    started_ns: seq * 1000 - 500,
    duration_ns: 100,
    ...over,
  };
}

function data(offset: number, len: number) {
  return { len, offset, head: "b''", truncated: false, hex: null };
}

describe("the wire lane's connections", () => {
  it("names a connection's columns by the lab's sockets, the accepted one once it exists", () => {
    const all = connections([
      seg("cli", "srv", "SYN", { rel_seq: 0, rel_ack: null }),
      seg("srv", "cli", "SYN ACK", { rel_seq: 0 }),
      seg("cli", "conn", "ACK"),
    ]);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ left: "cli", right: "conn", leftPort: CLI[1], rightPort: SRV[1] });
    expect(all[0]?.segments).toHaveLength(3);
  });

  it("keeps two connections apart by their ports", () => {
    const other: Addr = ["127.0.0.1", 51999];
    const all = connections([seg("cli", "srv", "SYN"), seg("two", "srv", "SYN", { src: other })]);
    expect(all.map((c) => c.left)).toEqual(["cli", "two"]);
  });
});

describe("the ladder's rows", () => {
  it("folds a flood's run of plain data and ACKs into one row, and opens it on demand", () => {
    const flood = [];
    for (let i = 0; i < 10; i++) {
      flood.push(seg("cli", "conn", "PSH ACK", { length: 1000, offset: i * 1000, rel_seq: 1 + i * 1000 }));
      flood.push(seg("conn", "cli", "ACK"));
    }
    const fin = seg("cli", "conn", "FIN ACK");
    const rows = ladderRows([seg("cli", "srv", "SYN"), ...flood, fin]);
    expect(rows.map((r) => r.kind)).toEqual(["segment", "run", "segment"]);
    const run = rows[1];
    if (run?.kind !== "run") throw new Error("no run");
    expect(run.data.get(CLI[1])).toEqual({ count: 10, bytes: 10_000 });
    expect(run.acks).toBe(10);
    const open = ladderRows([seg("cli", "srv", "SYN"), ...flood, fin], new Set([run.id]));
    expect(open).toHaveLength(2 + flood.length);
  });

  it("shows short runs, and anything noted, one segment at a time", () => {
    const few = Array.from({ length: RUN_MIN - 1 }, () => seg("conn", "cli", "ACK"));
    expect(ladderRows(few).every((r) => r.kind === "segment")).toBe(true);
    const zero = seg("conn", "cli", "ACK", { window: 0, notes: ["zero window"] });
    expect(plain(zero)).toBe(false);
    expect(plain(seg("cli", "conn", "RST"))).toBe(false);
  });

  it("writes sequence numbers as the bytes they cover", () => {
    expect(seqText(seg("cli", "conn", "PSH ACK", { rel_seq: 1, length: 11 }))).toBe("seq 1:12");
    expect(seqText(seg("cli", "srv", "SYN", { rel_seq: 0 }))).toBe("seq 0");
  });
});

describe("links between calls and segments", () => {
  it("finds the connect() of a SYN, the send() of data by offset, the close() of a FIN", () => {
    const listen = call("srv", "listen");
    const connect = call("cli", "connect");
    const syn = seg("cli", "srv", "SYN");
    const synAck = seg("srv", "cli", "SYN ACK");
    const first = call("cli", "send", { data: data(0, 5), done: 5 });
    const second = call("cli", "send", { data: data(5, 6), done: 6 });
    const both = seg("cli", "conn", "PSH ACK", { length: 11, offset: 0 });
    const close = call("cli", "close");
    const fin = seg("cli", "conn", "FIN ACK");
    const found = links([listen, connect, first, second, close], [syn, synAck, both, fin]);
    expect(found.callsOf.get(syn.seq)).toEqual([connect.call_id]);
    expect(found.callsOf.get(synAck.seq)).toEqual([listen.call_id]);
    expect(found.callsOf.get(both.seq)).toEqual([first.call_id, second.call_id]);
    expect(found.callsOf.get(fin.seq)).toEqual([close.call_id]);
    expect(found.segmentsOf.get(first.call_id)).toEqual([both.seq]);
  });

  it("ties a window update to the recv() that made room, and leaves probes to the kernel", () => {
    const recv = call("conn", "recv", { data: data(0, 4096), done: 4096 });
    const update = seg("conn", "cli", "ACK", { notes: ["window update"] });
    const probe = seg("cli", "conn", "ACK", { notes: ["window probe"] });
    const found = links([recv, call("cli", "send", { data: data(0, 10), done: 10 })], [update, probe]);
    expect(found.callsOf.get(update.seq)).toEqual([recv.call_id]);
    expect(found.callsOf.has(probe.seq)).toBe(false);
  });

  it("takes no call made after the segment crossed", () => {
    const syn = seg("cli", "srv", "SYN");
    const late = call("cli", "connect");
    expect(links([late], [syn]).callsOf.has(syn.seq)).toBe(false);
  });
});

describe("the accept queue's slots", () => {
  const port = 20000;
  function hs(client: number, complete = true): SegmentEvent[] {
    const c: [string, number] = ["127.0.0.1", client];
    const s: [string, number] = ["127.0.0.1", port];
    const out = [
      seg("cli", "srv", "SYN", { src: c, dst: s }),
      seg("srv", "cli", "SYN ACK", { src: s, dst: c }),
    ];
    if (complete) out.push(seg("cli", "srv", "ACK", { src: c, dst: s }));
    return out;
  }

  it("holds the completed handshakes no socket holds yet, oldest first", () => {
    const segments = [...hs(50001), ...hs(50002), ...hs(50003, false), ...hs(50004)];
    const held = new Set(["20000-50001"]); // accepted: conn holds it
    const found = queued(segments, port, held, 2);
    expect(found.map((q) => q.port)).toEqual([50002, 50004]);
    expect(found[0]?.seqs).toHaveLength(3);
    expect(queued(segments, port, held, 1).map((q) => q.port)).toEqual([50004]);
    expect(queued(segments, port, held, 0)).toEqual([]);
  });
});
