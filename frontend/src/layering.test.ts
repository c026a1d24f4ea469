import { describe, expect, it } from "vitest";

/**
 * The front end's folders are layers: the wire's types (protocol/) at the bottom, then pure
 * helpers (lib/), the store, the channel to the server (net/), the views, and the room's
 * pages (room/) on top. A module imports from its own layer or a lower one, and no chain of
 * imports comes back to where it started.
 */
const LAYERS = ["protocol", "lib", "store", "net", "views", "room"];

const sources = import.meta.glob(["./**/*.ts", "./**/*.svelte", "!./**/*.test.ts", "!./testing/**"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

/** "./views/controls/Forms.svelte" importing "../forms" -> "./views/forms" (no extension). */
function resolve(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const part of spec.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

function stem(path: string): string {
  return path.replace(/\.ts$/, "");
}

/** Every module's relative imports, type-only ones included, as module paths. */
function graph(): Map<string, string[]> {
  const known = new Map(Object.keys(sources).map((p) => [stem(p), p]));
  const edges = new Map<string, string[]>();
  for (const [path, text] of Object.entries(sources)) {
    const targets: string[] = [];
    for (const match of text.matchAll(/\bfrom\s+["'](\.[^"']+)["']/g)) {
      const target = known.get(stem(resolve(path, match[1] ?? "")));
      if (target) targets.push(target);
    }
    edges.set(path, targets);
  }
  return edges;
}

function layer(path: string): number {
  const top = path.split("/")[1] ?? "";
  return LAYERS.indexOf(top);
}

function cycle(edges: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const trail: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...trail.slice(trail.indexOf(node)), node];
    state.set(node, "open");
    trail.push(node);
    for (const next of edges.get(node) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    trail.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of edges.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

describe("the front end's layers", () => {
  const edges = graph();

  it("reads the modules it checks", () => {
    expect(edges.get("./store/lab.ts")).toContain("./protocol/events.ts");
    expect(edges.get("./views/Controls.svelte")).toContain("./views/controls/forms.ts");
  });

  it("has no import pointing up a layer", () => {
    const upward: string[] = [];
    for (const [from, targets] of edges) {
      for (const to of targets) {
        if (layer(from) >= 0 && layer(to) > layer(from)) upward.push(`${from} -> ${to}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(cycle(edges)).toBeNull();
  });

  it("finds a cycle when there is one", () => {
    const edges = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
    expect(cycle(edges)).toEqual(["a", "b", "c", "a"]);
  });
});
