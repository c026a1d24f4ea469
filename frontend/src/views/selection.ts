/** What the participant picked: a socket, and a moment (an event's seq). */
export interface Selection {
  socket: string | null;
  seq: number | null;
}
