/** What the participant picked: a socket, and a moment (an event's seq). */
export interface Selection {
  socket: string | null;
  seq: number | null;
}

/** What every live view is given: the store, its version (to redraw), and the selection. */
export interface ViewProps {
  store: import("../store/lab").LabStore;
  version: number;
  selection: Selection;
  select: (s: Selection) => void;
}
