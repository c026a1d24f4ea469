/**
 * What a lesson step measured, told apart by the step's kind. The wire types a step's data as
 * a union (LessonStepData) without a tag of its own: the step's kind says which member it is,
 * and the data's shape must agree, or there is nothing to show (a skipped step, or a kind the
 * data does not fit) rather than a view that reads fields that are not there.
 */
import type {
  ByteOrderReading,
  EndingRow,
  FdLimitReport,
  IpcReport,
  KernelSettings,
  LessonFraming,
  LessonStepData,
  NagleRow,
  ShapeReport,
} from "../protocol/events";

export type StepReading =
  | { kind: "framing"; framing: LessonFraming }
  | { kind: "byteorder"; reading: ByteOrderReading }
  | { kind: "ipc"; rows: IpcReport[] }
  | { kind: "shapes"; rows: ShapeReport[] }
  | { kind: "endings"; rows: EndingRow[] }
  | { kind: "nagle"; rows: NagleRow[] }
  | { kind: "sysctl"; settings: KernelSettings["settings"] }
  | { kind: "fdlimit"; report: FdLimitReport };

type Row = IpcReport | ShapeReport | EndingRow | NagleRow;

/** ``kept`` when every row passed the test that kept it: one row of another kind spoils them all. */
function all<T extends Row>(rows: readonly Row[], kept: T[]): T[] | null {
  return kept.length === rows.length ? kept : null;
}

function fromRows(kind: string, rows: readonly Row[]): StepReading | null {
  if (kind === "ipc") {
    const ipc = all(rows, rows.filter((r) => "channel" in r));
    return ipc && { kind, rows: ipc };
  }
  if (kind === "shapes") {
    const shapes = all(rows, rows.filter((r) => "peak_workers" in r));
    return shapes && { kind, rows: shapes };
  }
  if (kind === "endings") {
    const endings = all(rows, rows.filter((r) => "peer_saw" in r));
    return endings && { kind, rows: endings };
  }
  if (kind === "nagle") {
    const nagle = all(rows, rows.filter((r) => "median_ms" in r));
    return nagle && { kind, rows: nagle };
  }
  return null;
}

/** The step's data as its kind reads it, or null when there is none or it does not fit. */
export function stepReading(kind: string, data: LessonStepData): StepReading | null {
  if (data === null || typeof data !== "object") return null;
  if (Array.isArray(data)) return fromRows(kind, data);
  if (kind === "framing" && "framed" in data) return { kind, framing: data };
  if (kind === "byteorder" && "opposite_fmt" in data) return { kind, reading: data };
  if (kind === "sysctl" && "settings" in data) return { kind, settings: data.settings };
  if (kind === "fdlimit" && "high" in data) return { kind, report: data };
  return null;
}
