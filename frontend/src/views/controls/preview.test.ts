import { describe, expect, it } from "vitest";
import { clientLines, serverLines, sockoptLevel } from "./preview";

const server = { host: "127.0.0.1", port: 0, backlog: 5, rcvbuf: "4096", sndbuf: "", blocking: false, network: "host" as const };

describe("serverLines", () => {
  it("shows the calls a new server makes, in order", () => {
    expect(serverLines("srv", server)).toEqual([
      "srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
      "srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)",
      "srv.setblocking(False)",
      "srv.bind(('127.0.0.1', 0))  # any free lab port",
      "srv.listen(5)",
    ]);
  });
  it("notes the private network and leaves out what is not asked", () => {
    const lines = serverLines("s", { ...server, rcvbuf: "", blocking: true, port: 40001, network: "private" });
    expect(lines).toEqual([
      "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # in the lab's private network",
      "s.bind(('127.0.0.1', 40001))",
      "s.listen(5)",
    ]);
  });
});

describe("clientLines", () => {
  it("shows the calls a new client makes, in order", () => {
    expect(clientLines("cli", { rcvbuf: "", sndbuf: "4096", blocking: false }, "host", ["127.0.0.1", 40000])).toEqual([
      "cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
      "cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)",
      "cli.setblocking(False)",
      "cli.connect(('127.0.0.1', 40000))",
    ]);
  });
});

describe("sockoptLevel", () => {
  it("puts TCP_ options at IPPROTO_TCP, the others at SOL_SOCKET", () => {
    expect(sockoptLevel("TCP_USER_TIMEOUT")).toBe("IPPROTO_TCP");
    expect(sockoptLevel("SO_KEEPALIVE")).toBe("SOL_SOCKET");
  });
});
