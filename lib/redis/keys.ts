/**
 * The names of one room's keys and channels in Redis. Every one shares the hash tag `{room}`, so
 * a room lives in one slot of a Redis Cluster and its scripts may touch several of its keys.
 */

/** The keys and the channel of one room. */
export interface RoomKeys {
  /** Counter that hands out blocks of connection ids. */
  ids: string;
  /** Set while Redis holds the room's data: gone, it lost them (FLUSHALL, an empty restart). */
  epoch: string;
  /** Set for a while after the data were found lost: no ids are handed out meanwhile. */
  fence: string;
  /** Set of the servers (nodes) in the room. */
  nodes: string;
  /** Hash of every name held: folded name -> `node|owner|since|joined|Name`. */
  online: string;
  /** Stream of the lines said, for `--history`. */
  history: string;
  /** Pub/sub channel of the room's lines. */
  channel: string;
  /** The key that says node `node` is alive (it expires when it stops refreshing it). */
  presence(node: string): string;
  /** The key that tells node `node`, when it comes back, that the room counted it as gone. */
  tombstone(node: string): string;
  /** The channel on which node `node` hears its own liveness probes. */
  probe(node: string): string;
  /** The key that holds the name `folded` (lower-cased). */
  name(folded: string): string;
  /** What {@linkcode name} puts before the folded name. */
  namePrefix: string;
}

/** The keys of room `room`. */
export function roomKeys(room: string): RoomKeys {
  const prefix = `parley:{${room}}:`;
  return {
    ids: `${prefix}ids`,
    epoch: `${prefix}epoch`,
    fence: `${prefix}fence`,
    nodes: `${prefix}nodes`,
    online: `${prefix}online`,
    history: `${prefix}history`,
    channel: `${prefix}room`,
    presence: (node) => `${prefix}node:${node}`,
    tombstone: (node) => `${prefix}gone:${node}`,
    probe: (node) => `${prefix}probe:${node}`,
    name: (folded) => `${prefix}name:${folded}`,
    namePrefix: `${prefix}name:`,
  };
}
