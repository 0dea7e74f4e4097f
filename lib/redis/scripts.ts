/**
 * Every Lua script the Redis backend runs, in one place. A script is how several keys of one room
 * change in one step, with no other server in between; all of a script's keys share the room's
 * hash tag (`keys.ts`), so a room's scripts also run on a Redis Cluster. Each script has a name,
 * which an in-memory Redis (for the unit tests) implements under the same name.
 *
 * The stored values of names are `node|owner|since|joined|Name`: the server that holds the name,
 * the connection that holds it, when it was first claimed (microseconds), when that connection
 * first claimed a name (for `/who`'s order), and the name as spelled.
 */

/** A Lua script, and the name it goes by. */
export interface RedisScript {
  readonly name: string;
  readonly lua: string;
}

/**
 * Claims KEYS[1] (a name) for ARGV = node, owner, since, joined, Name, ttl, folded, unless someone
 * else holds it; lists it in KEYS[2] (the online hash). Returns 1 when claimed.
 */
export const CLAIM: RedisScript = {
  name: "claim",
  lua: `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + #ARGV[2] + 2) ~= ARGV[1] .. '|' .. ARGV[2] .. '|' then
  return 0
end
local value = ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5]
redis.call('SET', KEYS[1], value, 'PX', ARGV[6])
redis.call('HSET', KEYS[2], ARGV[7], value)
return 1`,
};

/** Gives KEYS[1] (a name) up, and its entry ARGV[3] in KEYS[2], if ARGV = node, owner holds it. */
export const RELEASE: RedisScript = {
  name: "release",
  lua: `
local mine = ARGV[1] .. '|' .. ARGV[2] .. '|'
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #mine) == mine then redis.call('DEL', KEYS[1]) end
local listed = redis.call('HGET', KEYS[2], ARGV[3])
if listed and string.sub(listed, 1, #mine) == mine then redis.call('HDEL', KEYS[2], ARGV[3]) end
return 1`,
};

/**
 * The heartbeat: refreshes this node's presence (KEYS[1], for ARGV[2] ms) and membership of
 * KEYS[2], then each name KEYS[8..] it holds (for ARGV[3] ms), whose value is ARGV[6..] (and
 * folded name ARGV[6 + n..]). A name that expired is set again; one that someone else holds goes
 * to the earlier claim (the lower node id, on a tie).
 *
 * It also keeps the room's data honest after Redis lost it (FLUSHALL, a restart from an empty
 * dump, an eviction) without the link dropping: the id counter KEYS[7] is raised to at least this
 * node's highest id ARGV[4], every time; and when the room's epoch key KEYS[5] is gone, it is set
 * again (to a stamp of Redis's clock) with a fence KEYS[6] (for ARGV[5] ms) during which no block
 * of ids is handed out (`TAKE_BLOCK`), so that every live server has raised the counter first.
 *
 * Returns: the stamp of this node's tombstone KEYS[4] (set when it was reaped as gone), or `''`;
 * the room's epoch; then the 0-based indexes of the names lost. Nothing is consumed: a server
 * learns it was reaped, or that Redis lost the room's data, by a stamp it has not seen yet, so a
 * heartbeat whose reply was lost (it timed out on a link cut silently, and ran when the link was
 * mended) hides neither from the next one.
 */
export const KEEP: RedisScript = {
  name: "keep",
  lua: `
local function fields(value) return string.match(value, '^([^|]*)|([^|]*)|([^|]*)|') end
local fixed = 7
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local epoch = redis.call('GET', KEYS[5])
if not epoch then
  local time = redis.call('TIME')
  epoch = time[1] .. '.' .. time[2]
  redis.call('SET', KEYS[5], epoch)
  redis.call('SET', KEYS[6], '1', 'PX', ARGV[5])
end
local reply = {redis.call('GET', KEYS[4]) or '', epoch}
local counter = tonumber(redis.call('GET', KEYS[7]) or '0')
if counter < tonumber(ARGV[4]) then redis.call('SET', KEYS[7], ARGV[4]) end
local n = #KEYS - fixed
for i = 1, n do
  local value = ARGV[5 + i]
  local held = redis.call('GET', KEYS[fixed + i])
  local take = not held
  if held then
    local node, owner, since = fields(held)
    local my_node, my_owner, my_since = fields(value)
    take = (node == my_node and owner == my_owner) or tonumber(my_since) < tonumber(since)
      or (tonumber(my_since) == tonumber(since) and my_node < node)
  end
  if take then
    redis.call('SET', KEYS[fixed + i], value, 'PX', ARGV[3])
    redis.call('HSET', KEYS[3], ARGV[5 + n + i], value)
  else
    reply[#reply + 1] = i - 1
  end
end
return reply`,
};

/**
 * Removes node ARGV[1] from the chat (KEYS[2]) with every name it held (in KEYS[3], and the keys
 * ARGV[2] .. folded) and its members' rooms (its fields `node|id` in KEYS[5]), if its presence KEYS[1] is gone; "leave"
 * as ARGV[3] is the node leaving by itself. A reaped node gets a tombstone, KEYS[4], a stamp of
 * Redis's clock, to learn it was counted as gone (see `KEEP`). Returns
 * the online entries (node|owner|since|joined|Name) it removed, and its members' rooms (owner,
 * JSON list, owner, ...); only the first caller gets them.
 */
export const REAP: RedisScript = {
  name: "reap",
  lua: `
local leaving = ARGV[3] == 'leave'
if leaving then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
elseif redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SREM', KEYS[2], ARGV[1]) == 0 then
  return {{}, {}}
else
  local time = redis.call('TIME')
  redis.call('SET', KEYS[4], time[1] .. '.' .. time[2], 'PX', 3600000)
end
local mine = ARGV[1] .. '|'
local rooms = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[5])) do
  if string.sub(field, 1, #mine) == mine then
    rooms[#rooms + 1] = string.sub(field, #mine + 1)
    rooms[#rooms + 1] = redis.call('HGET', KEYS[5], field)
    redis.call('HDEL', KEYS[5], field)
  end
end
local gone = {}
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local value = all[i + 1]
  if string.sub(value, 1, #mine) == mine then
    redis.call('HDEL', KEYS[3], all[i])
    local key = ARGV[2] .. all[i]
    local held = redis.call('GET', key)
    if held and string.sub(held, 1, #mine) == mine then redis.call('DEL', key) end
    gone[#gone + 1] = value
  end
end
return {gone, rooms}`,
};

/**
 * Takes a block of ARGV[1] ids from the counter KEYS[1]: returns its highest id, or -1 while the
 * fence KEYS[2] stands (see `KEEP`). Marks the room as known (its epoch KEYS[3], a stamp of
 * Redis's clock).
 */
export const TAKE_BLOCK: RedisScript = {
  name: "take-block",
  lua: `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local time = redis.call('TIME')
redis.call('SET', KEYS[3], time[1] .. '.' .. time[2], 'NX')
return redis.call('INCRBY', KEYS[1], ARGV[1])`,
};

/** Raises the id counter KEYS[1] to at least ARGV[1] (after Redis lost its data). */
export const RAISE: RedisScript = {
  name: "raise",
  lua: `
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`,
};

/**
 * KEYS[1]: the stream. ARGV: node, channel, most entries, then the batch: one record per line,
 * `S line\n` for a said line (kept in the stream) or `N line\n` for a notice; then how to publish
 * (`PUBLISH`, or `SPUBLISH` on a Redis Cluster, where the channel is in the stream's slot).
 */
export const PUBLISH_AND_KEEP: RedisScript = {
  name: "publish-and-keep",
  lua: `
local out = {ARGV[1]}
for kind, line in string.gmatch(ARGV[4], '([SNP]) ([^\\n]*)\\n') do
  if kind == 'P' then
    out[#out + 1] = 'P ' .. line
  else
    local mark = '-'
    if kind == 'S' then mark = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'l', line) end
    out[#out + 1] = kind .. ' ' .. mark .. ' ' .. line
  end
end
redis.call(ARGV[5] or 'PUBLISH', ARGV[2], table.concat(out, '\\n'))
return 1`,
};

/**
 * With sessions: KEYS[1] the room's log (a stream), KEYS[2] its counter, size, and until when it is
 * kept (a hash). ARGV: node, channel, most bytes kept, the batch (one record per line, `S by echo
 * line\n` for a said line or `N by echo line\n` for a notice: `by` the session that said it or
 * `-`, `echo` the id under which it comes back to its server, or 0), how to publish (`PUBLISH` or
 * `SPUBLISH`), `1` to keep the log always (it is the history too), and how long an idle log lives
 * (ms; 0 for ever).
 *
 * While the room keeps its log (`until`, which `KEEP_LOG` moves on while a session may need it,
 * on Redis's own clock), each line gets the room's next number (the batch takes its numbers from
 * the counter at once) and goes into the log under it (`SEQ-0`); the oldest lines go while the log
 * holds more than the bound (each counted 64 bytes more), but never the newest. The batch is
 * published as `node\n` then `kind SEQ-0/by/echo line` per line (`-/by/echo` when not kept), so
 * every server, this one too, tells its clients with sessions each line under its number.
 */
export const PUBLISH_AND_LOG: RedisScript = {
  name: "publish-and-log",
  lua: `
local out = {ARGV[1]}
local pattern = '([SN]) (%S+) (%d+) ([^\\n]*)\\n'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if ARGV[6] ~= '1' and now >= (tonumber(redis.call('HGET', KEYS[2], 'until')) or 0) then
  for kind, by, echo, line in string.gmatch(ARGV[4], pattern) do
    out[#out + 1] = kind .. ' -/' .. by .. '/' .. echo .. ' ' .. line
  end
  redis.call(ARGV[5], ARGV[2], table.concat(out, '\\n'))
  return 0
end
local max = tonumber(ARGV[3])
local _, count = string.gsub(ARGV[4], '\\n', '')
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local renumbered = false
local added = 0
for kind, by, echo, line in string.gmatch(ARGV[4], pattern) do
  seq = seq + 1
  local id = seq .. '-0'
  local ok = redis.pcall('XADD', KEYS[1], id, 'k', kind, 't', now, 'a', by, 'l', line)
  if type(ok) == 'table' and ok.err then
    -- The log outlived its counter (an eviction): the numbers go on from its newest line.
    local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
    seq = tonumber(string.match(top[1], '^(%d+)')) + 1
    id = seq .. '-0'
    renumbered = true
    redis.call('XADD', KEYS[1], id, 'k', kind, 't', now, 'a', by, 'l', line)
  end
  added = added + #line + 64
  out[#out + 1] = kind .. ' ' .. id .. '/' .. by .. '/' .. echo .. ' ' .. line
end
if renumbered then redis.call('HSET', KEYS[2], 'seq', seq) end
local bytes
if fresh then
  bytes = added
  redis.call('HSET', KEYS[2], 'bytes', added)
else
  bytes = redis.call('HINCRBY', KEYS[2], 'bytes', added)
end
local newest = seq .. '-0'
while bytes > max do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if oldest == nil or oldest[1] == newest then break end
  local gone = 64
  local fields = oldest[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'l' then gone = gone + #fields[i + 1] end
  end
  redis.call('XDEL', KEYS[1], oldest[1])
  bytes = redis.call('HINCRBY', KEYS[2], 'bytes', -gone)
end
if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end
redis.call(ARGV[5], ARGV[2], table.concat(out, '\\n'))
return 1`,
};

/**
 * Makes the room whose log's hash is KEYS[1] keep its log for ARGV[1] ms more from now (Redis's
 * clock), if not for longer already; returns the number of its last line. When the room kept no
 * log until now, it says so on its channel ARGV[2] (with ARGV[3]: `PUBLISH` or `SPUBLISH`), so
 * that the servers that publish there plainly (having learned it kept none) use the log again.
 */
export const KEEP_LOG: RedisScript = {
  name: "keep-log",
  lua: `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local kept = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
if now + tonumber(ARGV[1]) > kept then redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[1])) end
if kept <= now then redis.call(ARGV[3], ARGV[2], '*\\nL - -') end
return redis.call('HGET', KEYS[1], 'seq') or '0'`,
};

/**
 * The lines of a room's log KEYS[1] from number ARGV[1] on, with the number of the last line told
 * (its counter, in KEYS[2]), read in one step: `{seq, entries}`.
 */
export const READ_LOG: RedisScript = {
  name: "read-log",
  lua: `
return {redis.call('HGET', KEYS[2], 'seq') or '0', redis.call('XRANGE', KEYS[1], ARGV[1] .. '-0', '+')}`,
};

/**
 * Takes the session KEYS[1] (once: it is deleted) with the private lines kept for it (KEYS[2]),
 * and notes where it went (KEYS[3] = ARGV[1], `node|id`, for ARGV[2] ms). Returns `{session,
 * privates}`, or nil when there is no such session.
 */
export const TAKE_SESSION: RedisScript = {
  name: "take-session",
  lua: `
local session = redis.call('GET', KEYS[1])
if not session then return false end
redis.call('DEL', KEYS[1])
local privates = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return {session, privates}`,
};

/**
 * Keeps the private line ARGV[1] for a session whose client is away (KEYS[2], at most ARGV[2]
 * lines, for ARGV[3] ms), unless it was resumed already: then returns where it went (KEYS[1]).
 */
export const KEEP_PRIVATE: RedisScript = {
  name: "keep-private",
  lua: `
local moved = redis.call('GET', KEYS[1])
if moved then return moved end
if redis.call('LLEN', KEYS[2]) < tonumber(ARGV[2]) then redis.call('RPUSH', KEYS[2], ARGV[1]) end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return false`,
};

/**
 * Hands the name KEYS[1] (listed in KEYS[2] under ARGV[6]) from the connection ARGV[1]
 * (`node|owner|`) to node ARGV[2], owner ARGV[3], spelled ARGV[4], for ARGV[5] ms: a session
 * resumed elsewhere keeps its name and its claim's age. A name nobody holds is claimed (since
 * ARGV[7], first named at ARGV[8]); one someone else took is left. Returns
 * `{'kept'|'free'|'taken', since, joined}`.
 */
export const HAND_OVER: RedisScript = {
  name: "hand-over",
  lua: `
local held = redis.call('GET', KEYS[1])
local since, joined, answer = ARGV[7], ARGV[8], 'free'
if held then
  if string.sub(held, 1, #ARGV[1]) ~= ARGV[1] then return {'taken', '0', '0'} end
  since, joined = string.match(held, '^[^|]*|[^|]*|([^|]*)|([^|]*)|')
  answer = 'kept'
end
local value = ARGV[2] .. '|' .. ARGV[3] .. '|' .. since .. '|' .. joined .. '|' .. ARGV[4]
redis.call('SET', KEYS[1], value, 'PX', ARGV[5])
redis.call('HSET', KEYS[2], ARGV[6], value)
return {answer, since, joined}`,
};
