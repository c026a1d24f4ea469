// The rows form of a lab's events (docs/api.md, "Rows"): what the server sends a viewer
// that asked for it (`?rows=1`), read back into the very events an `events/batch` holds.
//
// A flood's loop calls and select() turns are arrays of numbers, the server's packed
// record (backend/sockscope/engine/packed.py) field by field; the strings they name come
// once per connection, in `strings`. A payload that is the pattern is not sent at all:
// its bytes are made here from the stream offset, as the server made them.

import type { CallEvent, EventsRowsMessage, LabEvent, SelectEvent } from "./events";

export const CALL_ROW = 1;
export const SELECT_ROW = 2;
const PATTERN = 1; // flags: the payload is the pattern at its offset
const RECV = 2; // flags: the result reads as a recv()'s (the bytes), not a send()'s
const NOTE_SHUT_DOWN = 2;
const NO_ARG = -1;
export const PREVIEW_BYTES = 48;
export const FULL_BYTES = 256;
const BLOCK = 8;
const BLOCKS_WRAP = 0x10000000; // seven hex digits

/** `size` bytes of the pattern from stream `offset`, as text (they are ASCII): 8-byte
 * blocks "0000000|", "0000001|", ... numbered in hex (backend engine/core/payload.py). */
export function patternText(offset: number, size: number): string {
  if (size <= 0) return "";
  let out = "";
  let block = Math.floor(offset / BLOCK);
  let at = offset - block * BLOCK;
  while (out.length < size) {
    const text = (block % BLOCKS_WRAP).toString(16).padStart(7, "0") + "|";
    out += at ? text.slice(at) : text;
    at = 0;
    block++;
  }
  return out.length > size ? out.slice(0, size) : out;
}

function asciiHex(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).padStart(2, "0");
  return out;
}

/** The interned values a connection was sent: number -> value. */
export class RowStrings {
  private values: unknown[] = [];

  /** Add what a message brought (`from` is the number of its first value). */
  add(from: number, values: unknown[]): void {
    if (from > this.values.length) throw new Error(`strings from ${from}, have ${this.values.length}`);
    this.values.length = from;
    for (const value of values) this.values.push(value);
  }

  get(number: number): unknown[] {
    const value = this.values[number];
    if (!Array.isArray(value)) throw new Error(`no string numbered ${number}`);
    return value;
  }

  get size(): number {
    return this.values.length;
  }
}

function picked(names: string[], mask: number): string[] {
  const out: string[] = [];
  let bits = mask;
  for (let i = 0; bits > 0 && i < names.length; i++) {
    if (bits % 2 === 1) out.push(names[i] as string);
    bits = Math.floor(bits / 2);
  }
  return out;
}

function selectOf(row: number[], seq: number, strings: RowStrings): SelectEvent {
  const [, tNs, iteration, number, timeout, blockedNs, woken, idle, maskR, maskW] = row as number[];
  const [readers, writers] = strings.get(number as number) as [string[], string[]];
  return {
    kind: "select",
    seq,
    t_ns: tNs as number,
    iteration: iteration as number,
    readers: [...readers],
    writers: [...writers],
    errors: [],
    timeout: timeout as number,
    ready_readers: picked(readers, maskR as number),
    ready_writers: picked(writers, maskW as number),
    ready_errors: [],
    blocked_ns: blockedNs as number,
    woken: woken === 1,
    idle_before: idle as number,
  };
}

function callOf(row: unknown[], seq: number, strings: RowStrings): CallEvent {
  const [, tNs, callId, site, arg, asked, done, offset, started, duration, failed, note, flags] =
    row as number[];
  const [socket, op, lineHead, lineTail] = strings.get(site as number) as string[];
  const common = {
    kind: "call" as const,
    seq,
    t_ns: tNs as number,
    call_id: callId as number,
    socket: socket as string,
    op: op as string,
    line: arg === NO_ARG ? (lineHead as string) : `${lineHead}${arg}${lineTail}`,
    via: "loop" as const,
    asked: asked as number,
    started_ns: started as number,
    duration_ns: duration as number,
  };
  if (failed) {
    const [name, text] = strings.get(failed) as [string, string];
    return { ...common, done: null, data: null, result: null, result_text: name, errno: name, error: text };
  }
  const len = done as number;
  const truncated = len > PREVIEW_BYTES;
  let head: string;
  let hex: string | null;
  if (row.length > 13) {
    head = row[13] as string; // kept bytes: their repr and hex, made by the server
    hex = len <= FULL_BYTES ? (row[14] as string) : null;
  } else if ((flags as number) & PATTERN) {
    const shown = patternText(offset as number, Math.min(len, len <= FULL_BYTES ? len : PREVIEW_BYTES));
    head = `b'${shown.slice(0, PREVIEW_BYTES)}'`;
    hex = len <= FULL_BYTES ? asciiHex(shown) : null;
  } else {
    head = "b''";
    hex = len <= FULL_BYTES ? "" : null;
  }
  let resultText: string;
  if (!((flags as number) & RECV)) resultText = String(len);
  else if (len) resultText = `${head}${truncated ? "..." : ""} (${len} bytes)`;
  else if (note === NOTE_SHUT_DOWN) resultText = "b'' (this side was shut down)";
  else resultText = "b'' (peer closed)";
  return {
    ...common,
    done: len,
    data: { len, offset: offset as number, head, truncated, hex },
    result: len,
    result_text: resultText,
    errno: null,
    error: null,
  };
}

/** The events of an `events/rows` message, read with `strings` (which it updates first).
 * Throws on a row it cannot read: the caller treats that as a broken stream. */
export function eventsOfRows(message: EventsRowsMessage, strings: RowStrings): LabEvent[] {
  strings.add(message.strings.from, message.strings.values);
  const out: LabEvent[] = new Array(message.events.length);
  for (let i = 0; i < message.events.length; i++) {
    const row = message.events[i];
    const seq = message.first + i;
    if (!Array.isArray(row)) {
      out[i] = row as LabEvent;
    } else if (row[0] === CALL_ROW) {
      out[i] = callOf(row, seq, strings);
    } else if (row[0] === SELECT_ROW) {
      out[i] = selectOf(row as number[], seq, strings);
    } else {
      throw new Error(`a row of unknown kind ${String(row[0])}`);
    }
  }
  return out;
}
