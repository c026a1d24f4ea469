import { describe, expect, it } from "vitest";
import type { CallEvent } from "../../protocol/events";
import type { Command } from "../../protocol/events";
import { socketInfo } from "../../testing/fixtures";
import {
  bufOptions,
  emptyOutcomes,
  explain,
  Forms,
  freeName,
  datagramTargets,
  reachable,
  slot,
  soErrorErrno,
  summary,
  type Answer,
} from "./forms";

function call(line: string, result_text: string): CallEvent {
  return {
    kind: "call", seq: 1, t_ns: 0, call_id: 1, socket: "cli", op: "send", line, via: "command",
    asked: null, done: null, data: null, result: null, result_text, errno: null, error: null,
    started_ns: 0, duration_ns: 0,
  };
}

const ok = (...events: CallEvent[]): Answer => ({ ok: true, result: null, error: null, events, status: 200 });
const refused = (errno: string | null, message: string): Answer => ({
  ok: false, result: null, error: { errno, message }, events: [], status: 400,
});

/** A fake server: answers each op from `answers` (ok by default) and records what it was sent. */
function lab(answers: Record<string, Answer> = {}) {
  const sent: Command[] = [];
  const forms = new Forms(async (command) => {
    sent.push(command);
    return answers[command.op] ?? ok(call(`${command.op}()`, "None"));
  }, emptyOutcomes(), async () => ({ lines: [], error: null }));
  return { forms, sent, outcomes: forms.outcomes };
}

describe("explain", () => {
  it("says what an errno means", () => {
    expect(explain({ op: "send", socket: "s", size: 1 }, refused("EAGAIN", "Resource temporarily unavailable"))).toBe(
      "send() → EAGAIN: the kernel has no room (or no data) right now, and the socket is non-blocking",
    );
  });
  it("falls back on the kernel's words for an errno it does not know", () => {
    expect(explain({ op: "bind", socket: "s", address: ["127.0.0.1", 0] }, refused("EACCES", "Permission denied"))).toBe("bind() → EACCES: Permission denied");
  });
  it("gives a refusal's message when there is no errno", () => {
    expect(explain({ op: "send", socket: "s", size: 1 }, refused(null, "size: must be between 0 and 16777216, got -5"))).toBe(
      "send(): size: must be between 0 and 16777216, got -5",
    );
  });
});

describe("summary", () => {
  it("shows the last call's line and result", () => {
    expect(summary({ op: "send", socket: "s", size: 1 }, ok(call("a", "1"), call("cli.send(b'x')", "1")))).toBe("cli.send(b'x')  →  1");
  });
  it("says a blocked call is blocked", () => {
    expect(summary({ op: "recv", socket: "s", bufsize: 1 }, { ...ok(), blocked: true })).toBe("recv() is blocked: it returns when the kernel lets it");
  });
  it("says done when no call came back", () => {
    expect(summary({ op: "pause" }, ok())).toBe("done");
  });
});

describe("small helpers", () => {
  it("files a socket's outcome under its name, a panel's under its key", () => {
    expect(slot("send", { op: "send", socket: "cli" })).toBe("cli/send");
    expect(slot("cable", { op: "cable", plugged: false })).toBe("cable");
  });
  it("finds a free name", () => {
    expect(freeName("cli", [])).toBe("cli");
    expect(freeName("cli", ["cli", "cli2", "srv"])).toBe("cli3");
  });
  it("asks for the buffers filled in, and only those", () => {
    expect(bufOptions("4096", " ")).toEqual({ rcvbuf: 4096 });
    expect(bufOptions("", "8192")).toEqual({ sndbuf: 8192 });
  });
  it("reaches a server on every address through 127.0.0.1", () => {
    expect(reachable(["0.0.0.0", 40000])).toEqual(["127.0.0.1", 40000]);
    expect(reachable(["10.0.0.2", 40001])).toEqual(["10.0.0.2", 40001]);
    expect(reachable(["::", 40002])).toEqual(["::1", 40002]);
  });
  it("reads the errno of an SO_ERROR check", () => {
    expect(soErrorErrno("111 (ECONNREFUSED)")).toBe("ECONNREFUSED");
    expect(soErrorErrno("0 (connected)")).toBe("");
    expect(soErrorErrno(undefined)).toBe("");
  });
});

describe("Forms.act", () => {
  it("keeps a socket's result under its name and clears its last error", async () => {
    const { forms, outcomes } = lab();
    outcomes.errors["cli/send"] = "send() → EAGAIN: ...";
    await forms.act("send", { op: "send", socket: "cli", size: 1 });
    expect(forms.error("cli/send")).toBe("");
    expect(forms.result("cli/send")).toBe("send()  →  None");
    expect(forms.result("srv/send")).toBe("");
  });
  it("explains a refusal next to the control", async () => {
    const { forms } = lab({ cable: refused(null, "no private network") });
    await forms.act("cable", { op: "cable", plugged: false });
    expect(forms.error("cable")).toBe("cable(): no private network");
  });
});

describe("Forms.steps", () => {
  it("runs every step and keeps the last one's result", async () => {
    const { forms, sent } = lab();
    const done = await forms.steps("server", [
      { op: "socket", name: "srv" }, { op: "bind", socket: "srv", address: ["127.0.0.1", 0] }, { op: "listen", socket: "srv" },
    ]);
    expect(done).toBe(true);
    expect(sent.map((c) => c.op)).toEqual(["socket", "bind", "listen"]);
    expect(forms.result("server")).toBe("listen()  →  None");
  });
  it("goes on after a non-blocking connect's EINPROGRESS", async () => {
    const { forms, sent } = lab({ connect: refused("EINPROGRESS", "Operation now in progress") });
    expect(await forms.steps("client", [{ op: "socket", name: "cli" }, { op: "connect", socket: "cli", address: ["127.0.0.1", 40000] }])).toBe(true);
    expect(sent.map((c) => c.op)).toEqual(["socket", "connect"]);
    expect(forms.error("client")).toBe("");
  });
  it("stops at a refusal and closes the half-made socket", async () => {
    const { forms, sent } = lab({ bind: refused("EADDRINUSE", "Address already in use") });
    const done = await forms.steps("server", [
      { op: "socket", name: "srv" }, { op: "bind", socket: "srv", address: ["127.0.0.1", 0] }, { op: "listen", socket: "srv" },
    ]);
    expect(done).toBe(false);
    expect(sent).toEqual([{ op: "socket", name: "srv" }, { op: "bind", socket: "srv", address: ["127.0.0.1", 0] }, { op: "close", socket: "srv" }]);
    expect(forms.error("server")).toBe("bind() → EADDRINUSE: another socket already uses that address");
    expect(forms.cleanup("server")).toBe("srv.close(): the half-made socket is gone; the name srv is free again.");
  });
  it("says so when the cleanup fails too", async () => {
    const { forms } = lab({ bind: refused("EADDRINUSE", "in use"), close: refused(null, "no socket srv") });
    await forms.steps("server", [{ op: "socket", name: "srv" }, { op: "bind", socket: "srv", address: ["127.0.0.1", 0] }]);
    expect(forms.cleanup("server")).toBe("srv.close() failed too: close(): no socket srv");
  });
  it("closes nothing when the socket itself was refused", async () => {
    const { forms, sent } = lab({ socket: refused(null, "the lab holds 64 sockets") });
    expect(await forms.steps("server", [{ op: "socket", name: "srv" }, { op: "bind", socket: "srv", address: ["127.0.0.1", 0] }])).toBe(false);
    expect(sent.map((c) => c.op)).toEqual(["socket"]);
    expect(forms.cleanup("server")).toBe("");
  });
  it("starts a new socket under an old name with none of the old one's outcomes", async () => {
    const { forms, outcomes } = lab();
    Object.assign(outcomes.errors, { "cli/send": "old", "cli2/send": "other", client: "old" });
    outcomes.results["cli/recv"] = "old";
    await forms.steps("client", [{ op: "socket", name: "cli" }]);
    expect(outcomes.errors).toEqual({ "cli2/send": "other", client: "" });
    expect(outcomes.results).toEqual({ client: "socket()  →  None" });
  });
});

describe("datagramTargets", () => {
  it("offers the other bound UDP sockets of the same family", () => {
    const udp = (name: string, family: "AF_INET" | "AF_INET6", local: [string, number] | null) =>
      socketInfo(name, { type: "SOCK_DGRAM", family, local });
    const me = udp("cli", "AF_INET", ["0.0.0.0", 41000]);
    const all = [me, udp("srv", "AF_INET", ["127.0.0.1", 20000]), udp("six", "AF_INET6", ["::1", 20001]),
                 udp("fresh", "AF_INET", null), socketInfo("tcp", { local: ["127.0.0.1", 20002] })];
    expect(datagramTargets(me, all).map((s) => s.name)).toEqual(["srv"]);
  });
});
