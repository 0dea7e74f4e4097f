/**
 * A small table from short keys to 32-bit integers, each entry labelled with a short text, kept in
 * a SharedArrayBuffer so that every worker of one server reads and changes the same entries. Keys
 * are compared byte for byte: whoever means two spellings to be one key folds them first (chat
 * names use `nameKey`), and keeps the spelling to show as the label.
 *
 * Why shared memory and not messages: "is the name bob free? then it is mine" must be one atomic
 * step across isolates, and a chat command must not wait on another thread to answer. A futex-style
 * lock (`Atomics.wait`/`notify`) guards the whole table; each critical section is a few probes, so
 * the lock is almost never contended. Open addressing with linear probing and backward-shift
 * deletion leaves no tombstones, so lookups stay short however long the server runs.
 */

/** Longest key, and longest label, in bytes. An IPv6 address with a zone fits, and so does a chat name. */
export const MAX_KEY_BYTES = 64;

const LOCK = 0;
const SIZE = 1;
const HEADER_WORDS = 2;
/** Per slot: the key's length (0 for an empty slot), the value, the label's length. */
const SLOT_WORDS = 3;
/** Per slot: the key's bytes, then the label's. */
const SLOT_BYTES = 2 * MAX_KEY_BYTES;

const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** FNV-1a. */
function hash(bytes: Uint8Array, start: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** `text` in UTF-8, if it is 1 to {@linkcode MAX_KEY_BYTES} bytes long. */
function encode(text: string, what: string): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length === 0 || bytes.length > MAX_KEY_BYTES) {
    throw new RangeError(`table ${what} must be 1-${MAX_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** A table shared by isolates; every method is atomic with respect to every other isolate. */
export class SharedTable {
  /** Post this to a worker and attach to it there with `new SharedTable(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  #words: Int32Array;
  #keys: Uint8Array;
  #mask: number;

  /** Creates a table with room for `entries` keys at once. */
  static create(entries: number): SharedTable {
    let capacity = 8;
    while (capacity < 2 * (entries + 1)) capacity *= 2;
    const words = HEADER_WORDS + SLOT_WORDS * capacity;
    return new SharedTable(new SharedArrayBuffer(words * 4 + capacity * SLOT_BYTES));
  }

  /** Attaches to a table made by {@linkcode SharedTable.create}, in this isolate or another. */
  constructor(buffer: SharedArrayBuffer) {
    const capacity = buffer.byteLength / (SLOT_WORDS * 4 + SLOT_BYTES) | 0;
    this.buffer = buffer;
    this.#mask = capacity - 1;
    this.#words = new Int32Array(buffer, 0, HEADER_WORDS + SLOT_WORDS * capacity);
    this.#keys = new Uint8Array(buffer, this.#words.byteLength, capacity * SLOT_BYTES);
  }

  /** Number of keys. */
  get size(): number {
    return Atomics.load(this.#words, SIZE);
  }

  /** The value of `key`, if it has one. */
  get(key: string): number | undefined {
    return this.update(key, (value) => value);
  }

  /**
   * Replaces the value of `key` with `change(value)` as one atomic step; `undefined` in or out
   * means "no entry". `change` runs under the table's lock: it must be quick and must not touch
   * the table. A new entry is labelled with its key. Returns the new value.
   *
   * @throws {RangeError} when the key is empty or longer than {@linkcode MAX_KEY_BYTES}, or the
   * table has no room left.
   */
  update(key: string, change: (value: number | undefined) => number | undefined): number | undefined {
    return this.#modify(key, change);
  }

  /**
   * Makes `owner` the value of `key`, labelled `label`, unless another value holds it; says whether
   * `owner` holds it now. An owner that already held it takes the new label (`bob` may become `Bob`).
   */
  claim(key: string, owner: number, label: string = key): boolean {
    return this.#modify(key, (value) => value ?? owner, { owner, label: encode(label, "label") }) === owner;
  }

  /** Removes `key` if `owner` holds it. */
  release(key: string, owner: number): void {
    this.#modify(key, (value) => value === owner ? undefined : value);
  }

  /** Every entry's label and value, in no particular order. */
  entries(): [string, number][] {
    this.#lock();
    try {
      const entries: [string, number][] = [];
      for (let slot = 0; slot <= this.#mask; slot++) {
        if (this.#length(slot) > 0) {
          const label = this.#keys.subarray(
            slot * SLOT_BYTES + MAX_KEY_BYTES,
            slot * SLOT_BYTES + MAX_KEY_BYTES + this.#words[this.#valueIndex(slot) + 1],
          );
          entries.push([decoder.decode(label), this.#words[this.#valueIndex(slot)]]);
        }
      }
      return entries;
    } finally {
      this.#unlock();
    }
  }

  /** {@linkcode update}, and an entry whose value is or becomes `relabel.owner` takes its label. */
  #modify(
    key: string,
    change: (value: number | undefined) => number | undefined,
    relabel?: { owner: number; label: Uint8Array },
  ): number | undefined {
    const bytes = encode(key, "key");
    this.#lock();
    try {
      const slot = this.#find(bytes);
      const found = this.#length(slot) > 0;
      const value = found ? this.#words[this.#valueIndex(slot)] : undefined;
      const next = change(value);
      if (next === undefined) {
        if (found) this.#remove(slot);
        return next;
      }
      if (!found) this.#insert(slot, bytes, bytes);
      if (next === relabel?.owner) this.#label(slot, relabel.label);
      this.#words[this.#valueIndex(slot)] = next;
      return next;
    } finally {
      this.#unlock();
    }
  }

  #length(slot: number): number {
    return this.#words[HEADER_WORDS + slot * SLOT_WORDS];
  }

  #valueIndex(slot: number): number {
    return HEADER_WORDS + slot * SLOT_WORDS + 1;
  }

  #label(slot: number, label: Uint8Array): void {
    this.#keys.set(label, slot * SLOT_BYTES + MAX_KEY_BYTES);
    this.#words[this.#valueIndex(slot) + 1] = label.length;
  }

  #home(slot: number): number {
    return hash(this.#keys, slot * SLOT_BYTES, this.#length(slot)) & this.#mask;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #find(key: Uint8Array): number {
    let slot = hash(key, 0, key.length) & this.#mask;
    for (;;) {
      const length = this.#length(slot);
      if (length === 0) return slot;
      if (length === key.length && this.#equals(slot, key)) return slot;
      slot = (slot + 1) & this.#mask;
    }
  }

  #equals(slot: number, key: Uint8Array): boolean {
    const start = slot * SLOT_BYTES;
    for (let i = 0; i < key.length; i++) if (this.#keys[start + i] !== key[i]) return false;
    return true;
  }

  #insert(slot: number, key: Uint8Array, label: Uint8Array): void {
    // One slot always stays empty, so that every probe ends.
    if (this.#words[SIZE] >= this.#mask) throw new RangeError("shared table is full");
    this.#keys.set(key, slot * SLOT_BYTES);
    this.#words[HEADER_WORDS + slot * SLOT_WORDS] = key.length;
    this.#label(slot, label);
    this.#words[SIZE]++;
  }

  /** Empties `slot`, moving back later entries of its probe run so that none becomes unreachable. */
  #remove(slot: number): void {
    const mask = this.#mask;
    let hole = slot;
    for (let next = (slot + 1) & mask; this.#length(next) > 0; next = (next + 1) & mask) {
      // An entry may fill the hole when its home is not between the hole and where it sits.
      if (((next - this.#home(next)) & mask) >= ((next - hole) & mask)) {
        this.#keys.copyWithin(hole * SLOT_BYTES, next * SLOT_BYTES, (next + 1) * SLOT_BYTES);
        const from = HEADER_WORDS + next * SLOT_WORDS;
        this.#words.copyWithin(HEADER_WORDS + hole * SLOT_WORDS, from, from + SLOT_WORDS);
        hole = next;
      }
    }
    this.#words[HEADER_WORDS + hole * SLOT_WORDS] = 0;
    this.#words[SIZE]--;
  }

  /** Ulrich Drepper's futex mutex ("Futexes Are Tricky", mutex 3). */
  #lock(): void {
    const words = this.#words;
    let state = Atomics.compareExchange(words, LOCK, UNLOCKED, LOCKED);
    if (state === UNLOCKED) return;
    if (state !== CONTENDED) state = Atomics.exchange(words, LOCK, CONTENDED);
    while (state !== UNLOCKED) {
      Atomics.wait(words, LOCK, CONTENDED);
      state = Atomics.exchange(words, LOCK, CONTENDED);
    }
  }

  #unlock(): void {
    if (Atomics.sub(this.#words, LOCK, 1) !== LOCKED) {
      Atomics.store(this.#words, LOCK, UNLOCKED);
      Atomics.notify(this.#words, LOCK, 1);
    }
  }
}
