import { describe, expect, it } from "vitest";
import type { ByteOrderReading, EndingRow, IpcReport, LessonFraming, ShapeReport } from "../protocol/events";
import { stepReading } from "./stepdata";

const framing: LessonFraming = {
  strategy: "delimited",
  mode: "back_to_back",
  messages: ["hi", "there"],
  sent: ["hi\n", "there\n"],
  chunks: ["hi\nthere\n"],
  naive: ["hi\nthere\n"],
  framed: ["hi", "there"],
  naive_ok: false,
  framed_ok: true,
  verdict: "framed: intact; naive: glued",
};
const byteorder: ByteOrderReading = {
  value: 1,
  fmt: "!I",
  wire: "00 00 00 01",
  right: 1,
  wrong: 16777216,
  opposite_fmt: "<I",
  host_order: "little",
  network: null,
  text_vs_binary: {
    value: 1,
    text: "1",
    text_bytes: 1,
    binary_hex: "00000001",
    binary_fmt: "!I",
    binary_bytes: 4,
    smaller: "text",
  },
};
const ipc: IpcReport[] = [{ channel: "unix", bytes: 1024, runs_s: [0.01], median_mb_s: 0.1, syscalls: 4 }];
const shapes: ShapeReport[] = [
  {
    shape: "select",
    label: "one select() loop",
    clients: 2,
    served: 2,
    seconds: 0.3,
    peak_workers: 1,
    peak_blocked: 0,
    samples: [[0, 1, 0]],
  },
];
const endings: EndingRow[] = [{ ending: "close", peer_saw: "b'' (peer closed)", state: "CLOSE_WAIT" }];

describe("stepReading", () => {
  it("reads each kind's data as that kind", () => {
    expect(stepReading("framing", framing)).toEqual({ kind: "framing", framing });
    expect(stepReading("byteorder", byteorder)).toEqual({ kind: "byteorder", reading: byteorder });
    expect(stepReading("ipc", ipc)).toEqual({ kind: "ipc", rows: ipc });
    expect(stepReading("shapes", shapes)).toEqual({ kind: "shapes", rows: shapes });
    expect(stepReading("endings", endings)).toEqual({ kind: "endings", rows: endings });
  });

  it("shows nothing when the data does not fit the step's kind", () => {
    expect(stepReading("framing", byteorder)).toBeNull();
    expect(stepReading("byteorder", framing)).toBeNull();
    expect(stepReading("framing", ipc)).toBeNull();
    expect(stepReading("ipc", shapes)).toBeNull();
    expect(stepReading("shapes", endings)).toBeNull();
    expect(stepReading("endings", ipc)).toBeNull();
    expect(stepReading("ipc", framing)).toBeNull();
    expect(stepReading("wait", ipc)).toBeNull();
  });

  it("a row of another kind among the rows spoils them all", () => {
    const mixed = [...ipc, ...shapes] as unknown as IpcReport[]; // no LessonStepData: a broken server's
    expect(stepReading("ipc", mixed)).toBeNull();
  });

  it("shows nothing for a skipped step or one that measured nothing", () => {
    expect(stepReading("framing", { skipped: "no private network" })).toBeNull();
    expect(stepReading("endings", null)).toBeNull();
  });
});

describe("stepReading: the steps beyond the HOWTO", () => {
  const nagleRow = { way: "nagle" as const, label: "two send() calls", median_ms: 44, rounds_ms: [44, 43.9] };
  it("reads a nagle step's rows, and only as a nagle step", () => {
    expect(stepReading("nagle", [nagleRow])).toEqual({ kind: "nagle", rows: [nagleRow] });
    expect(stepReading("ipc", [nagleRow])).toBeNull();
  });
  it("reads a sysctl step's settings", () => {
    const settings = [{ name: "net.core.somaxconn", value: "4096" }];
    expect(stepReading("sysctl", { settings })).toEqual({ kind: "sysctl", settings });
    expect(stepReading("byteorder", { settings })).toBeNull();
  });
});

describe("stepReading: an fdlimit step", () => {
  it("reads the low and high descriptors' answers", () => {
    const answer = { fd: 4, select: "readable", poll: "readable", epoll: "readable" };
    const report = { at_least: 1024, opened: 1022, low: answer, high: { ...answer, fd: 1024, select: "ValueError: x" } };
    expect(stepReading("fdlimit", report)).toEqual({ kind: "fdlimit", report });
    expect(stepReading("sysctl", report)).toBeNull();
  });
});
