import { describe, expect, it } from "vitest";
import { inSelect, loopCount } from "./loopcount";
import { socketInfo } from "../testing/fixtures";

describe("inSelect", () => {
  it("keeps an auto-accepting listener and an auto-receiving connection in the lists", () => {
    expect(inSelect(socketInfo("srv", { role: "listening", auto_accept: true }), [], false)).toBe(true);
    expect(inSelect(socketInfo("conn", { auto_recv: "discard" }), [], false)).toBe(true);
  });
  it("leaves out a quiet connection, a fresh socket and one blocked in recv()", () => {
    expect(inSelect(socketInfo("cli"), [], false)).toBe(false);
    expect(inSelect(socketInfo("new", { role: "new" }), [], false)).toBe(false);
    expect(inSelect(socketInfo("conn", { auto_recv: "echo" }), ["recv"], false)).toBe(false);
  });
  it("counts bytes left to send and a connect in progress as writers", () => {
    expect(inSelect(socketInfo("cli", { pending_out: 10 }), [], false)).toBe(true);
    expect(inSelect(socketInfo("cli", { role: "connecting" }), [], false)).toBe(true);
    expect(inSelect(socketInfo("cli", { pending_out: 10 }), ["sendall"], false)).toBe(false);
  });
});

describe("loopCount", () => {
  it("adds one quiet select per timeout while a socket waits", () => {
    expect(loopCount(10, 1e9, 2.1e9, 0.25, true)).toEqual({ count: 14, quiet: 4 });
  });
  it("keeps the reported count when nothing is in select() or the loop is paused", () => {
    expect(loopCount(10, 1e9, 9e9, 0.25, false)).toEqual({ count: 10, quiet: 0 });
  });
});
