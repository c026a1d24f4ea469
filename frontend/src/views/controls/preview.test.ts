import { describe, expect, it } from "vitest";
import type { Preview } from "./forms";
import { clientCommands, LivePreview, serverCommands } from "./preview";

const server = { host: "127.0.0.1", port: 0, backlog: 5, rcvbuf: "4096", sndbuf: "", blocking: false,
                 autoAccept: true, network: "host" as const };

describe("serverCommands", () => {
  it("are the commands a new server sends, in order (previewed and run alike)", () => {
    expect(serverCommands("srv", server)).toEqual([
      { op: "socket", name: "srv", options: { rcvbuf: 4096, blocking: false, auto_accept: true, network: "host" } },
      { op: "bind", socket: "srv", address: ["127.0.0.1", 0] },
      { op: "listen", socket: "srv", backlog: 5 },
    ]);
  });
  it("leave out a buffer size not asked for, and take the port as a number", () => {
    const [socket, bind] = serverCommands("s", { ...server, rcvbuf: "", port: "40001" as unknown as number });
    expect(socket).toMatchObject({ options: { blocking: false, auto_accept: true, network: "host" } });
    expect(socket?.op === "socket" && Object.keys(socket.options ?? {})).toEqual(["blocking", "auto_accept", "network"]);
    expect(bind).toMatchObject({ address: ["127.0.0.1", 40001] });
  });
  it("make a UDP server a bound socket with no listen(), and an IPv6 one AF_INET6", () => {
    expect(serverCommands("u", { ...server, rcvbuf: "", kind: "udp" })).toEqual([
      { op: "socket", name: "u", options: { type: "SOCK_DGRAM", blocking: false, network: "host" } },
      { op: "bind", socket: "u", address: ["127.0.0.1", 0] },
    ]);
    const [six] = serverCommands("s6", { ...server, rcvbuf: "", host: "::" });
    expect(six).toMatchObject({ options: { family: "AF_INET6", auto_accept: true } });
  });
});

describe("clientCommands", () => {
  it("are the commands a new client sends, in its server's network", () => {
    expect(clientCommands("cli", { rcvbuf: "", sndbuf: "4096", blocking: false }, "private", ["127.0.0.1", 40000])).toEqual([
      { op: "socket", name: "cli", options: { sndbuf: 4096, blocking: false, network: "private" } },
      { op: "connect", socket: "cli", address: ["127.0.0.1", 40000] },
    ]);
  });
  it("connect an IPv6 client as AF_INET6, and only make a UDP one", () => {
    const [six] = clientCommands("c6", { rcvbuf: "", sndbuf: "", blocking: true }, "host", ["::1", 40000]);
    expect(six).toMatchObject({ options: { family: "AF_INET6" } });
    expect(clientCommands("u", { rcvbuf: "", sndbuf: "", blocking: true, kind: "udp" }, "host", ["127.0.0.1", 0])).toEqual([
      { op: "socket", name: "u", options: { type: "SOCK_DGRAM", blocking: true, network: "host" } },
    ]);
  });
});

describe("LivePreview", () => {
  const answer = (line: string): Preview => ({ lines: [line], error: null });

  it("drops an answer that arrives after a later request's", async () => {
    const pending: Array<(p: Preview) => void> = [];
    const live = new LivePreview(() => new Promise((resolve) => pending.push(resolve)));
    const first = live.request([{ op: "close", socket: "a" }]);
    const second = live.request([{ op: "close", socket: "b" }]);
    pending[1]?.(answer("b.close()"));
    pending[0]?.(answer("a.close()"));
    expect(await second).toEqual(answer("b.close()"));
    expect(await first).toBeNull();
  });

  it("says why when the server gives no preview", async () => {
    const live = new LivePreview(async () => { throw new Error("offline"); });
    const got = await live.request([{ op: "close", socket: "a" }]);
    expect(got?.lines).toEqual([]);
    expect(got?.error?.message).toBe("no preview: offline");
  });
});
