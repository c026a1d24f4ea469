/**
 * The room's REST calls (api/room.py). A refusal becomes a RoomError carrying the status and
 * the server's own sentence (its ErrorBody), so each page can say what went wrong in words.
 */
import type { ErrorBody } from "../protocol/events";

export class RoomError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function messageOf(body: unknown, status: number): string {
  const error = (body as Partial<ErrorBody> | null)?.error;
  return typeof error?.message === "string" ? error.message : `the server answered ${status}`;
}

export async function roomCall<T>(path: string, init: RequestInit = {}, fetchImpl: typeof fetch = fetch): Promise<T> {
  let response: Response;
  try {
    response = await fetchImpl(path, init);
  } catch (e) {
    throw new RoomError(0, `no answer from the server (${String(e)})`);
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: said below
  }
  if (!response.ok) throw new RoomError(response.status, messageOf(body, response.status));
  return body as T;
}

export function roomPost<T>(path: string, body: unknown = {}, fetchImpl: typeof fetch = fetch): Promise<T> {
  return roomCall<T>(
    path,
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
    fetchImpl,
  );
}

/** What a join refusal means, in the participant's words (the server's sentence follows). */
export function joinRefusal(error: RoomError): string {
  switch (error.status) {
    case 403:
      return `That is not this room's code: check the code on the projector. (${error.message})`;
    case 429:
      // Two limits answer 429: the joins a minute (waiting helps) and the participants one
      // address may hold (only the instructor can help: a room behind one address).
      return error.message.includes("already holds")
        ? `This network already holds as many participants as the room allows for one address: ask the instructor to raise the limit. (${error.message})`
        : `Too many joins from this network just now: wait a minute and try again. (${error.message})`;
    case 503:
      return `The room is full: ask the instructor. (${error.message})`;
    case 422:
      return "Type the code from the projector (letters and digits).";
    default:
      return error.message;
  }
}
