/** Small pure helpers shared by the views. */

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function addr(a: [string, number] | null | undefined): string {
  if (!a) return "–";
  return a[0].includes(":") ? `[${a[0]}]:${a[1]}` : `${a[0]}:${a[1]}`; // IPv6 in brackets, as in a URL
}

export function seconds(ns: number): string {
  const s = ns / 1e9;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

export function ms(ns: number): string {
  const v = ns / 1e6;
  return v < 1 ? `${v.toFixed(2)} ms` : v < 100 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

/** TCP states grouped by meaning; each group has a colour (Okabe-Ito) and is always labelled. */
export function stateGroup(state: string | undefined): string {
  switch (state) {
    case "ESTABLISHED":
      return "ok";
    case "LISTEN":
      return "listen";
    case "SYN_SENT":
    case "SYN_RECV":
      return "opening";
    case "CLOSE_WAIT":
    case "LAST_ACK":
      return "peer-closed";
    case "FIN_WAIT1":
    case "FIN_WAIT2":
    case "CLOSING":
    case "TIME_WAIT":
      return "closing";
    default:
      return "idle";
  }
}

/**
 * Break `text` at spaces into lines no wider than `max`, as `width` measures them; a word
 * wider than `max` gets a line of its own. Each line but the last keeps its trailing space,
 * so the lines joined give `text` back (a test reading the text sees one sentence).
 */
export function wrap(text: string, max: number, width: (s: string) => number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const next = line ? `${line} ${word}` : word;
    if (line && width(next) > max) {
      lines.push(`${line} `);
      line = word;
    } else {
      line = next;
    }
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}

/**
 * Like `wrap`, but a line too long breaks first between its " · " parts, then between
 * words: "8.0 KiB not sent yet · 0 B sent, not acknowledged" keeps each fact on one line.
 */
export function wrapParts(text: string, max: number, width: (s: string) => number): string[] {
  // A line may end in its " ·" separator: that much may stick out into the box's margin.
  const bare = (s: string) => width(s.replace(/ · $/, "").trimEnd());
  if (width(text) <= max) return [text];
  const parts = text.split(" · ");
  const lines: string[] = [];
  let line = "";
  parts.forEach((part, i) => {
    const piece = i < parts.length - 1 ? `${part} · ` : part;
    if (line && bare(line + piece) > max) {
      lines.push(line);
      line = "";
    }
    line += piece;
  });
  lines.push(line);
  // A part still too long on its own is broken between words.
  return lines.flatMap((l) => (bare(l) > max ? wrap(l, max, width) : [l]));
}

/** The word on a socket's state badge: TCP's CLOSE also names a socket that never connected. */
export function stateBadge(role: string, state: string | undefined, datagram = false): string {
  if (datagram) return role === "new" ? "UDP · new" : `UDP · ${role}`; // UDP has no TCP state
  if (state === undefined || state === "CLOSE") {
    if (role === "new") return "new (not connected)";
    if (role === "bound") return "bound (not connected)";
    if (role === "failed") return "connect failed";
  }
  return state ?? role;
}

/** TCP_INFO's retransmissions, in words: what was sent again, and why. */
export function retransText(total: number, inARow: number): string {
  if (!total) return "";
  const what = `retransmitted: ${total} segment${total === 1 ? "" : "s"} sent again (no ACK came)`;
  // TCP_INFO's retransmits: timeouts of the current segment in a row, each wait twice as long.
  return inARow > 1 ? `${what} · ${inARow} timeouts in a row` : what;
}

export const RETRANS_TITLE =
  "TCP sent these segments again because no acknowledgement (ACK) came back in time:" +
  " the peer or the network lost them. Each retry waits twice as long; after too many," +
  " the connection fails with ETIMEDOUT.";

/** SIOCOUTQ split by SIOCOUTQNSD: bytes still waiting to go out, and bytes out but not acked. */
export function sendQueueText(sendQueue: number | null, unsent: number | null): string {
  if (!sendQueue) return "";
  if (unsent === null) return `${bytes(sendQueue)} sent, not acknowledged or not sent yet`;
  return `${bytes(unsent)} not sent yet · ${bytes(Math.max(0, sendQueue - unsent))} sent, not acknowledged`;
}

export const SEND_QUEUE_TITLE =
  "Bytes send() handed to the kernel that the peer has not acknowledged yet (SIOCOUTQ)." +
  " Not sent yet (SIOCOUTQNSD): waiting for room in the peer's window. Sent, not" +
  " acknowledged: on the wire, kept in case they must be sent again.";

export const ZERO_WINDOW_TEXT = "peer's window is 0: it takes no more bytes";

/** The zero-window line, with how far the probe timer has backed off (TCP_INFO backoff). */
export function zeroWindowText(backoff: number | null | undefined): string {
  if (!backoff) return ZERO_WINDOW_TEXT;
  return `${ZERO_WINDOW_TEXT}; probing, the wait doubled ${backoff} time${backoff === 1 ? "" : "s"}`;
}
export const ZERO_WINDOW_TITLE =
  "The peer's receive buffer is full (its program is not reading), so it advertises a zero" +
  " window (TCP_INFO snd_wnd 0): TCP sends nothing more, only small probes, until the peer" +
  " reads and the window opens again.";

/**
 * What the map says of a client the kernel connected but its server has not accepted.
 * `claimed` clients of `listener` say ESTABLISHED without an accepted partner; the queue
 * holds `queued`. More claimants than slots: the server dropped some final ACKs (its queue
 * was full), so some of them are still half-open (SYN_RECV) on its side, not queued.
 */
export function notAcceptedText(listener: string, claimed: number, queued: number | null | undefined): string {
  if (queued !== null && queued !== undefined && claimed > queued) {
    return `not accepted yet: in ${listener}'s accept queue, or still half-open on its side (${claimed} clients say connected; the queue holds ${queued})`;
  }
  return `in ${listener}'s accept queue: not accepted yet`;
}
