/**
 * The names of the chat's keys and channels in Redis. What belongs to the whole chat (ids, names,
 * servers, the rooms' directory and topics, private messages) shares the hash tag `{parley}`, so
 * it lives in one slot of a Redis Cluster and its scripts may touch several of its keys. Each room
 * has its own channel and history stream under its own tag (`{#rust}`), so rooms spread over a
 * cluster's slots, and a server listens only to the rooms its clients are in.
 */

/** The chat's own keys. */
export interface ChatKeys {
  /** Counter that hands out blocks of connection ids. */
  ids: string;
  /** Set while Redis holds the chat's data: gone, it lost them (FLUSHALL, an empty restart). */
  epoch: string;
  /** Set for a while after the data were found lost: no ids are handed out meanwhile. */
  fence: string;
  /** Set of the servers (nodes) in the chat. */
  nodes: string;
  /** Hash of every name held: folded name -> `node|owner|since|joined|Name`. */
  online: string;
  /** Hash of every member's rooms: `node|id` -> JSON list of room names. */
  rooms: string;
  /** Hash of the rooms' topics: room key -> JSON of the topic. */
  topics: string;
  /** Hash of the operator's bans: address or block -> until (ms since the epoch). */
  bans: string;
  /** Pub/sub channel of private messages. */
  private: string;
  /** The key that says node `node` is alive (it expires when it stops refreshing it). */
  presence(node: string): string;
  /** The key that tells node `node`, when it comes back, that the chat counted it as gone. */
  tombstone(node: string): string;
  /** The channel on which node `node` hears its own liveness probes. */
  probe(node: string): string;
  /** The session whose token hashes to `hash`: JSON, with the resume window's TTL. */
  session(hash: string): string;
  /** The private lines kept for that session while its client is away. */
  sessionPrivates(hash: string): string;
  /** Set once that session was resumed: where it went (`node|id`), for a private line late. */
  sessionMoved(hash: string): string;
  /** The key that holds the name `folded` (lower-cased). */
  name(folded: string): string;
  /** What {@linkcode name} puts before the folded name. */
  namePrefix: string;
}

/** The keys of one room. */
export interface RoomKeys {
  /** Pub/sub channel of the room's lines. */
  channel: string;
  /** Stream of the lines said, for `--history` (without sessions). */
  history: string;
  /**
   * With sessions (`--resume-window`): stream of every line told in the room, each under its
   * number (`SEQ-0`), bounded in bytes; it is the history too.
   */
  log: string;
  /** Hash of the log's counter (`seq`) and size (`bytes`). */
  meta: string;
}

/** The chat's keys. */
export function chatKeys(): ChatKeys {
  const prefix = "parley:{parley}:";
  return {
    ids: `${prefix}ids`,
    epoch: `${prefix}epoch`,
    fence: `${prefix}fence`,
    nodes: `${prefix}nodes`,
    online: `${prefix}online`,
    rooms: `${prefix}rooms`,
    topics: `${prefix}topics`,
    bans: `${prefix}bans`,
    private: `${prefix}private`,
    presence: (node) => `${prefix}node:${node}`,
    tombstone: (node) => `${prefix}gone:${node}`,
    probe: (node) => `${prefix}probe:${node}`,
    session: (hash) => `${prefix}session:${hash}`,
    sessionPrivates: (hash) => `${prefix}session:${hash}:privates`,
    sessionMoved: (hash) => `${prefix}session:${hash}:moved`,
    name: (folded) => `${prefix}name:${folded}`,
    namePrefix: `${prefix}name:`,
  };
}

/** The keys of the room whose key (`roomKey`) is `key`. */
export function roomKeys(key: string): RoomKeys {
  const prefix = `parley:{${key}}:`;
  return {
    channel: `${prefix}room`,
    history: `${prefix}history`,
    log: `${prefix}log`,
    meta: `${prefix}meta`,
  };
}
