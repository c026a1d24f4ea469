/** Small pure helpers shared by the views. */

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function addr(a: [string, number] | null | undefined): string {
  return a ? `${a[0]}:${a[1]}` : "–";
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

/** A Python bytes literal for text typed in a form, as the backend records it. */
export function pyBytes(text: string, limit = 40): string {
  const raw = new TextEncoder().encode(text);
  let out = "";
  for (const b of raw.slice(0, limit)) {
    if (b === 0x27) out += "\\'";
    else if (b === 0x5c) out += "\\\\";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `b'${out}'${raw.length > limit ? "..." : ""}`;
}

export function hexBytes(hex: string, limit = 40): string {
  const clean = hex.replace(/\s+/g, "");
  const pairs = clean.match(/.{1,2}/g) ?? [];
  const shown = pairs.slice(0, limit).map((p) => `\\x${p.toLowerCase()}`).join("");
  return `b'${shown}'${pairs.length > limit ? "..." : ""}`;
}
