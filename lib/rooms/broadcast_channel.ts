/**
 * The directory of the workers of one server: each worker posts every move of its members (who
 * is in which rooms now) on a BroadcastChannel, and keeps what every other worker posted. A
 * worker that starts says hello, and the others answer with all their members' rooms and the
 * topics they know, so it does not wait for their next move. Topics are posted as they are set;
 * every worker keeps them all, the newest for each room winning.
 */

import { type Directory, mergeRooms, type RoomView, type Topic, TopicStore, viewsOf } from "./directory.ts";

/** What the workers post to each other. */
type Message =
  | { from: string; hello: true }
  | { from: string; moves: [number, string[]][]; topics?: [string, Topic][] }
  | { from: string; room: string; topic: Topic }
  | { from: string; gone: true };

/** One worker's end of the channel that shares rooms between the workers. */
export class BroadcastChannelDirectory implements Directory {
  #channel: BroadcastChannel;
  #self = crypto.randomUUID();
  #local: () => RoomView[] = () => [];
  /** Each other worker's members' rooms: worker -> member -> rooms. */
  #others = new Map<string, Map<number, string[]>>();
  #topics = new TopicStore();
  /** Moves not posted yet: they go at the end of the burst of work, together. */
  #moves = new Map<number, string[]>();

  /** Joins the channel called `name`. */
  constructor(name: string) {
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (event: MessageEvent<Message>) => this.#receive(event.data);
  }

  open(local: () => RoomView[]): void {
    this.#local = local;
    this.#post({ from: this.#self, hello: true });
  }

  moved(owner: number, rooms: string[]): void {
    if (this.#moves.size === 0) queueMicrotask(() => this.#flush());
    this.#moves.set(owner, rooms);
  }

  rooms(): RoomView[] {
    const others = [...this.#others.values()].flatMap((moves) => viewsOf(moves));
    return mergeRooms([...this.#local(), ...others]);
  }

  topic(room: string): Topic | undefined {
    return this.#topics.get(room);
  }

  setTopic(room: string, topic: Topic): void {
    this.#topics.set(room, topic);
    this.#post({ from: this.#self, room, topic });
  }

  close(): void {
    this.#post({ from: this.#self, gone: true });
    this.#channel.close();
  }

  #flush(): void {
    if (this.#moves.size === 0) return;
    this.#post({ from: this.#self, moves: [...this.#moves] });
    this.#moves.clear();
  }

  #post(message: Message): void {
    this.#channel.postMessage(message);
  }

  #receive(message: Message): void {
    if ("hello" in message) {
      const moves = new Map<number, string[]>();
      for (const { name, members } of this.#local()) {
        for (const owner of members) moves.set(owner, [...moves.get(owner) ?? [], name]);
      }
      this.#post({ from: this.#self, moves: [...moves], topics: this.#topics.entries() });
    } else if ("moves" in message) {
      let members = this.#others.get(message.from);
      if (members === undefined) this.#others.set(message.from, members = new Map());
      for (const [owner, rooms] of message.moves) {
        if (rooms.length === 0) members.delete(owner);
        else members.set(owner, rooms);
      }
      for (const [room, topic] of message.topics ?? []) this.#topics.set(room, topic);
    } else if ("topic" in message) {
      this.#topics.set(message.room, message.topic);
    } else {
      this.#others.delete(message.from);
    }
  }
}
