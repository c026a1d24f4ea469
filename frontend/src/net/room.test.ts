import { describe, expect, it } from "vitest";
import { joinRefusal, RoomError, roomCall, roomPost } from "./room";

function answer(status: number, body: unknown): typeof fetch {
  return (async () => new Response(JSON.stringify(body), { status })) as typeof fetch;
}

describe("the room's calls", () => {
  it("returns the body of a good answer", async () => {
    expect(await roomCall<{ code: string }>("/api/room", {}, answer(200, { code: "K7QX" }))).toEqual({ code: "K7QX" });
  });

  it("turns a refusal into the server's sentence and status", async () => {
    const body = { ok: false, result: null, error: { errno: null, message: "wrong join code" }, events: [] };
    await expect(roomPost("/api/room/join", { code: "X" }, answer(403, body))).rejects.toMatchObject({
      status: 403,
      message: "wrong join code",
    });
  });

  it("says what the status was when the body is not the server's", async () => {
    const broken = (async () => new Response("<html>", { status: 502 })) as typeof fetch;
    await expect(roomCall("/api/room", {}, broken)).rejects.toMatchObject({ status: 502, message: "the server answered 502" });
  });

  it("explains each join refusal in words", () => {
    expect(joinRefusal(new RoomError(403, "wrong join code"))).toMatch(/not this room's code/);
    expect(joinRefusal(new RoomError(429, "slow down"))).toMatch(/Too many joins/);
    expect(joinRefusal(new RoomError(429, "this address already holds 3 participants, the limit per client"))).toMatch(/ask the instructor to raise the limit/);
    expect(joinRefusal(new RoomError(503, "no lab free"))).toMatch(/room is full/);
  });
});
