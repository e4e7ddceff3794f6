"""The Lua of the Redis store: each ledger operation runs inside one script, so it is atomic.

Amounts are integer nano-dollars (INCRBY/HINCRBY, never floats). Lua reads them as doubles,
which is exact up to 2**53 nano-dollars (about 9 million USD per counter).

There is one script, :data:`LEDGER`. Its single argument is a JSON list of operations
``[[name, keys, args], ...]`` (all strings), and it answers ``{1, value}`` (or
``{0, error}``) per operation. One argument instead of twenty costs the client far less
CPU, and a list lets an asyncio worker send the operations of many concurrent tasks in one
call; each operation is applied whole (the batch is even atomic as a whole). The keys are
computed by the client but not declared to Redis, which standalone Redis and Sentinel
accept; Redis Cluster is not supported (the ledger-wide aggregates span users anyway).
"""

from __future__ import annotations

# `drop_lease` finds the lease's user through its owner key, because release() is given
# only the reservation id.
_HELPERS = """
local function drop_lease(owner_key, rid, prefix)
  local user = redis.call('GET', owner_key)
  if not user then return 0 end
  redis.call('DEL', owner_key)
  local removed = redis.call('ZREM', prefix .. ':leases:{' .. user .. '}', rid)
  redis.call('HDEL', prefix .. ':lease_amounts:{' .. user .. '}', rid)
  return removed
end

local function open_reserved(zkey, hkey, now, prefix)
  local expired = redis.call('ZRANGEBYSCORE', zkey, '-inf', now)
  for _, rid in ipairs(expired) do
    redis.call('HDEL', hkey, rid)
    redis.call('DEL', prefix .. ':lease:' .. rid)
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
  end
  local total = 0
  for _, amount in ipairs(redis.call('HVALS', hkey)) do
    total = total + tonumber(amount)
  end
  return total
end
"""

# reserve. KEYS: leases zset, lease amounts hash, lease owner key, then one spent key per
# limit. ARGV: prefix, now, expires_at, amount, reservation id, user, lease key ttl (ms),
# then one limit per spent key.
# Returns {1} when granted, else {0, index of the refusing limit (1-based), spent, reserved}.
_RESERVE = """
local function op_reserve(KEYS, ARGV)
  local reserved = open_reserved(KEYS[1], KEYS[2], ARGV[2], ARGV[1])
  local amount = tonumber(ARGV[4])
  for i = 4, #KEYS do
    local limit = tonumber(ARGV[i + 4])
    local spent = tonumber(redis.call('GET', KEYS[i]) or '0')
    local used = spent + reserved
    if used >= limit or used + amount > limit then
      return {0, i - 3, spent, reserved}
    end
  end
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[4])
  redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[7])
  -- The user's lease keys outlive their newest lease; extended by 2x so that most
  -- reservations only look at the ttl.
  local ttl = tonumber(ARGV[7])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], 2 * ttl)
    redis.call('PEXPIRE', KEYS[2], 2 * ttl)
  end
  return {1}
end
"""

# record (and settle). KEYS: lease owner key, done marker, totals, by_model, by_provider,
# by_user, tiers, day stream, days index, then the user's spent keys (one per period).
# ARGV: prefix, reservation id ('' for a plain record), attempt nonce, marker ttl (s), cost,
# model, provider, user, has user ('1'/'0'), tier (or ''), tier given ('1'/'0'), entry json,
# stream maxlen ('0' = no history), day score, stream ttl (ms), day, oldest day score kept,
# then one ttl (ms, '-1' = never expires) per spent key.
# Returns 1 when this call (or an earlier attempt with the same nonce) recorded the entry,
# 0 when the entry id was already recorded by someone else.
_RECORD = """
local function op_record(KEYS, ARGV)
  if ARGV[2] ~= '' then
    drop_lease(KEYS[1], ARGV[2], ARGV[1])
  end
  if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then
    if redis.call('GET', KEYS[2]) == ARGV[3] then
      return 1
    end
    return 0
  end
  local cost = ARGV[5]
  redis.call('HINCRBY', KEYS[3], 'total', cost)
  redis.call('HINCRBY', KEYS[3], 'count', 1)
  redis.call('HINCRBY', KEYS[4], ARGV[6], cost)
  redis.call('HINCRBY', KEYS[5], ARGV[7], cost)
  if ARGV[9] == '1' then
    redis.call('HINCRBY', KEYS[6], ARGV[8], cost)
    if ARGV[11] == '1' then
      redis.call('HSET', KEYS[7], ARGV[8], ARGV[10])
    else
      redis.call('HSETNX', KEYS[7], ARGV[8], ARGV[10])
    end
    for i = 10, #KEYS do
      -- A counter gets its expiry when it is created (its value is then this cost).
      local ttl = ARGV[i + 8]
      if redis.call('INCRBY', KEYS[i], cost) == tonumber(cost) and ttl ~= '-1' then
        redis.call('PEXPIRE', KEYS[i], ttl)
      end
    end
  end
  if ARGV[13] ~= '0' then
    redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[13], '*', 'n', cost, 'e', ARGV[12])
    if redis.call('ZADD', KEYS[9], ARGV[14], ARGV[16]) == 1 then
      -- the day's first entry: its stream gets its expiry, old days leave the index
      redis.call('PEXPIRE', KEYS[8], ARGV[15])
      redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', '(' .. ARGV[17])
    end
  end
  return 1
end
"""

# release. KEYS: lease owner key. ARGV: prefix, reservation id. 1 if the lease was open.
# usage. KEYS: leases zset, lease amounts hash, then spent keys. ARGV: prefix, now.
#   Returns {open reserved, spent per key...}.
# tier. KEYS: tiers hash. ARGV: user, tier (or '').
_SMALL_OPS = """
local function op_release(KEYS, ARGV)
  return drop_lease(KEYS[1], ARGV[2], ARGV[1])
end

local function op_usage(KEYS, ARGV)
  local result = {open_reserved(KEYS[1], KEYS[2], ARGV[2], ARGV[1])}
  for i = 3, #KEYS do
    result[i - 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  return result
end

local function op_tier(KEYS, ARGV)
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
"""

_DISPATCH = """
local ops = {reserve = op_reserve, record = op_record, release = op_release,
             usage = op_usage, tier = op_tier}
local results = {}
for i, call in ipairs(cjson.decode(ARGV[1])) do
  local ok, value = pcall(ops[call[1]], call[2], call[3])
  if ok then
    results[i] = {1, value}
  else
    results[i] = {0, tostring(value.err or value)}
  end
end
return results
"""

#: The one script: every ledger operation, dispatched by name.
LEDGER = _HELPERS + _RESERVE + _RECORD + _SMALL_OPS + _DISPATCH

#: The operations :data:`LEDGER` knows.
OPERATIONS = frozenset({"reserve", "record", "release", "usage", "tier"})
