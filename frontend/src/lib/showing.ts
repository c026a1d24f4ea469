/**
 * What the instructor puts on the projector: a mirrored lab, whether names show, and the
 * question whose counts it shows once revealed. The projector page runs in the instructor's
 * browser (it needs the instructor's cookie), so the two pages share this through
 * localStorage, and the `storage` event tells the projector at once.
 */
export interface Showing {
  /** The lab to mirror, or null: the projector shows the join code and QR. */
  lab: string | null;
  /** The participant's name, shown above the mirror unless names are hidden. */
  name: string;
  hideNames: boolean;
  /** The question whose counts the projector shows after the reveal. */
  question: { lesson: string; step: number } | null;
}

export const SHOWING_KEY = "sockscope-showing";
export const NOTHING_SHOWN: Showing = { lab: null, name: "", hideNames: false, question: null };

export function parseShowing(text: string | null): Showing {
  if (!text) return NOTHING_SHOWN;
  try {
    const value = JSON.parse(text) as Partial<Showing>;
    const question = value.question;
    return {
      lab: typeof value.lab === "string" ? value.lab : null,
      name: typeof value.name === "string" ? value.name : "",
      hideNames: value.hideNames === true,
      question:
        question && typeof question.lesson === "string" && Number.isInteger(question.step)
          ? { lesson: question.lesson, step: question.step }
          : null,
    };
  } catch {
    return NOTHING_SHOWN;
  }
}

export function readShowing(): Showing {
  return parseShowing(localStorage.getItem(SHOWING_KEY));
}

export function writeShowing(showing: Showing): void {
  localStorage.setItem(SHOWING_KEY, JSON.stringify(showing));
}

/** Calls `changed` when another tab (the instructor's page) changes what is shown. */
export function watchShowing(changed: (showing: Showing) => void): () => void {
  const listener = (event: StorageEvent): void => {
    if (event.key === SHOWING_KEY) changed(parseShowing(event.newValue));
  };
  addEventListener("storage", listener);
  return () => removeEventListener("storage", listener);
}
