/**
 * Entries by a sequential 32-bit id (the requests a UDF host process has not answered yet): an
 * array indexed by the id's low bits, so that adding and taking an entry per call allocates
 * nothing and hashes nothing (a Map set and deleted per call rehashed its table as it filled
 * and emptied, and fed the collector). An id whose slot is taken by an older entry still waiting
 * (a long request among many short ones) goes to a small overflow map; the array doubles when it
 * is half full.
 */
export class IdTable<T> {
  private ids: number[];
  private items: Array<T | undefined>;
  private mask: number;
  private readonly overflow = new Map<number, T>();
  /** Entries held. */
  size = 0;

  constructor(capacity = 256) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.ids = new Array<number>(n).fill(-1);
    this.items = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  set(id: number, item: T): void {
    if (this.size * 2 >= this.items.length) this.grow();
    this.place(id, item);
  }

  /** Puts an entry in its slot, or in the overflow map when the slot is taken. */
  private place(id: number, item: T): void {
    this.size++;
    const i = id & this.mask;
    if (this.items[i] === undefined) {
      this.ids[i] = id;
      this.items[i] = item;
    } else {
      this.overflow.set(id, item);
    }
  }

  /** Removes and returns the entry of `id`, if there is one. */
  take(id: number): T | undefined {
    const i = id & this.mask;
    const item = this.items[i];
    if (item !== undefined && this.ids[i] === id) {
      this.items[i] = undefined;
      this.ids[i] = -1;
      this.size--;
      return item;
    }
    if (this.overflow.size === 0) return undefined;
    const o = this.overflow.get(id);
    if (o !== undefined) {
      this.overflow.delete(id);
      this.size--;
    }
    return o;
  }

  /** Every entry with its id (a copy: the table may change while the caller goes through it). */
  entries(): Array<[number, T]> {
    const out: Array<[number, T]> = [];
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined) out.push([this.ids[i] as number, item]);
    }
    for (const e of this.overflow) out.push(e);
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.ids.fill(-1);
    this.overflow.clear();
    this.size = 0;
  }

  private grow(): void {
    const held = this.entries();
    const n = this.items.length * 2;
    this.ids = new Array<number>(n).fill(-1);
    this.items = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
    this.overflow.clear();
    this.size = 0;
    for (const [id, item] of held) this.place(id, item);
  }
}
