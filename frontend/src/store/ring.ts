/** A bounded list: pushing past capacity drops the oldest items. */
export class Ring<T> {
  private items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
  }

  get length(): number {
    return this.items.length;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.items.slice(this.start).concat(this.items.slice(0, this.start));
  }

  /** The newest `n` items, oldest first. */
  last(n: number): T[] {
    const all = this.toArray();
    return all.slice(Math.max(0, all.length - n));
  }

  clear(): void {
    this.items = [];
    this.start = 0;
  }
}

/**
 * Columns of numbers aligned on time, bounded (the uPlot data model): one
 * Float64Array per column, filled in a circle and read back in order.
 */
export class Series {
  private cols: Float64Array[];
  private size = 0;
  private head = 0;
  /** Rows pushed since the series began (a view redraws only when it has moved). */
  pushed = 0;

  constructor(
    readonly capacity: number,
    readonly columns: number,
  ) {
    this.cols = Array.from({ length: columns }, () => new Float64Array(capacity));
  }

  push(values: number[]): void {
    for (let c = 0; c < this.columns; c++) {
      (this.cols[c] as Float64Array)[this.head] = values[c] ?? NaN;
    }
    this.head = (this.head + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    this.pushed += 1;
  }

  get length(): number {
    return this.size;
  }

  /** Plain arrays, oldest first, ready for uPlot's setData. */
  data(): number[][] {
    const start = this.size < this.capacity ? 0 : this.head;
    return this.cols.map((col) => {
      const out = new Array<number>(this.size);
      for (let i = 0; i < this.size; i++) out[i] = col[(start + i) % this.capacity] as number;
      return out;
    });
  }
}
