export type Theme = "light" | "dark";

export function initialTheme(): Theme {
  const saved = localStorage.getItem("sockscope-theme");
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("sockscope-theme", theme);
}

/** Projector mode: the lab's type a quarter bigger (app.css scales by --type), remembered. */
export const PROJECTOR_SCALE = 1.25;

export function initialProjector(): boolean {
  return localStorage.getItem("sockscope-projector") === "on";
}

export function applyProjector(on: boolean): void {
  if (on) document.documentElement.dataset.projector = "on";
  else delete document.documentElement.dataset.projector;
  localStorage.setItem("sockscope-projector", on ? "on" : "off");
}

/** Leaving the lab: the home page keeps its own size; the choice stays saved. */
export function clearProjector(): void {
  delete document.documentElement.dataset.projector;
}
