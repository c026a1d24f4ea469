import { describe, expect, it } from "vitest";
import type { CallEvent, LingerEvent, ProbeEvent, SegmentEvent } from "../protocol/events";
import { fromKernel, statePath, type Inputs } from "./tcpstate";

type Addr = [string, number];
const CLI: Addr = ["127.0.0.1", 51234];
const SRV: Addr = ["127.0.0.1", 20000];
let seq = 0;

function call(socket: string, op: string, line = `${socket}.${op}()`, errno: string | null = null): CallEvent {
  seq += 1;
  return {
    kind: "call", seq, t_ns: seq * 1000, call_id: seq, socket, op, line, via: "command",
    asked: null, done: null, data: null, result: null, result_text: "None", errno, error: null,
    started_ns: seq * 1000 - 100, duration_ns: 50,
  };
}

function seg(fromCli: boolean, flags: string, relSeq = 1, relAck: number | null = 1, length = 0): SegmentEvent {
  seq += 1;
  return {
    kind: "segment", seq, t_ns: seq * 1000, wire_ns: seq * 1000 - 10, frame: seq,
    sender: fromCli ? "cli" : "conn", receiver: fromCli ? "conn" : "cli",
    src: fromCli ? CLI : SRV, dst: fromCli ? SRV : CLI, flags, rel_seq: relSeq, rel_ack: relAck,
    length, window: 65536, wscale: null, mss: null, offset: length ? relSeq - 1 : null, notes: [],
  };
}

function linger(socket: string, state: string | null): LingerEvent {
  seq += 1;
  return { kind: "linger", seq, t_ns: seq * 1000, socket, local: CLI, peer: SRV, state };
}

function probe(socket: string, state: string): ProbeEvent {
  seq += 1;
  return { kind: "probe", seq, t_ns: seq * 1000, socket, figures: { state } as ProbeEvent["figures"] };
}

function path(name: string, ports: [number, number] | null, inputs: Partial<Inputs>, listener: string | null = null) {
  return statePath(name, ports, { calls: [], segments: [], lingers: [], probes: [], ...inputs }, listener).map(
    (s) => `${s.from}>${s.to}: ${s.why}`,
  );
}

describe("a socket's path through TCP's states", () => {
  // cli connects, sends, closes first; conn (accepted) closes after: the active and passive close
  const connect = call("cli", "connect", "cli.connect(('127.0.0.1', 20000))");
  const handshake = [seg(true, "SYN", 0, null), seg(false, "SYN ACK", 0, 1), seg(true, "ACK", 1, 1)];
  const close = call("cli", "close", "cli.close()");
  const fin = seg(true, "FIN ACK", 1, 1);
  const finAck = seg(false, "ACK", 1, 2);
  const connClose = call("conn", "close", "conn.close()");
  const fin2 = seg(false, "FIN ACK", 1, 2);
  const lastAck = seg(true, "ACK", 2, 2);
  const segments = [...handshake, fin, finAck, fin2, lastAck];
  const calls = [connect, close, connClose];

  it("the client: SYN_SENT by connect(), ESTABLISHED by the SYN-ACK, the active close to TIME_WAIT", () => {
    expect(path("cli", [CLI[1], SRV[1]], { calls, segments, lingers: [linger("cli", null)] })).toEqual([
      "CLOSED>SYN_SENT: cli.connect(('127.0.0.1', 20000)): SYN sent",
      "SYN_SENT>ESTABLISHED: SYN-ACK received (ACK sent)",
      "ESTABLISHED>FIN_WAIT_1: cli.close(): FIN sent",
      "FIN_WAIT_1>FIN_WAIT_2: ACK of our FIN received",
      "FIN_WAIT_2>TIME_WAIT: FIN received",
      "TIME_WAIT>CLOSED: TIME_WAIT's timer ran out",
    ]);
  });

  it("the accepted socket: from its listener's LISTEN through the passive close", () => {
    expect(path("conn", [SRV[1], CLI[1]], { calls, segments }, "srv")).toEqual([
      "LISTEN>SYN_RECEIVED: SYN received (SYN-ACK sent)",
      "SYN_RECEIVED>ESTABLISHED: ACK of the SYN-ACK received",
      "ESTABLISHED>CLOSE_WAIT: FIN received",
      "CLOSE_WAIT>LAST_ACK: conn.close(): FIN sent",
      "LAST_ACK>CLOSED: ACK of our FIN received",
    ]);
  });

  it("both FINs crossing: FIN_WAIT_1, CLOSING, TIME_WAIT", () => {
    const mine = [...handshake, seg(true, "FIN ACK", 1, 1), seg(false, "FIN ACK", 1, 1), seg(false, "ACK", 2, 2)];
    expect(path("cli", [CLI[1], SRV[1]], { calls: [connect, close], segments: mine }).slice(2)).toEqual([
      "ESTABLISHED>FIN_WAIT_1: cli.close(): FIN sent",
      "FIN_WAIT_1>CLOSING: FIN received",
      "CLOSING>TIME_WAIT: ACK of our FIN received",
    ]);
  });

  it("a reset ends it at once", () => {
    const rst = seg(true, "RST ACK", 1, 1);
    expect(path("cli", [CLI[1], SRV[1]], { calls: [connect], segments: [...handshake, rst] }).at(-1)).toBe(
      "ESTABLISHED>CLOSED: RST sent",
    );
  });

  it("a listener stays in LISTEN, whatever handshakes its port sees", () => {
    const listen = call("srv", "listen", "srv.listen(5)");
    const steps = statePath("srv", null, { calls: [listen], segments, lingers: [], probes: [] }, null, true);
    expect(steps.map((s) => s.to)).toEqual(["LISTEN"]);
  });

  it("without a capture, the probes and the kernel's table tell the states", () => {
    const steps = path("cli", [CLI[1], SRV[1]], {
      calls: [connect],
      probes: [probe("cli", "ESTABLISHED"), probe("cli", "FIN_WAIT2")],
      lingers: [linger("cli", "TIME_WAIT"), linger("cli", null)],
    });
    expect(steps).toEqual([
      "CLOSED>SYN_SENT: cli.connect(('127.0.0.1', 20000)): SYN sent",
      "SYN_SENT>ESTABLISHED: seen by the probe (no capture)",
      "ESTABLISHED>FIN_WAIT_2: seen by the probe (no capture)",
      "FIN_WAIT_2>TIME_WAIT: seen in the kernel's table",
      "TIME_WAIT>CLOSED: TIME_WAIT's timer ran out",
    ]);
  });

  it("reads the kernel's state names", () => {
    expect(fromKernel("FIN_WAIT1")).toBe("FIN_WAIT_1");
    expect(fromKernel("SYN_RECV")).toBe("SYN_RECEIVED");
    expect(fromKernel("CLOSE")).toBe("CLOSED");
    expect(fromKernel(null)).toBeNull();
  });
});
