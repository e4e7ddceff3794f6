"""The Lua scripts of the Redis store: each ledger write is one of them, so it is atomic.

Amounts are integer nano-dollars (INCRBY/HINCRBY, never floats). Lua reads them as doubles,
which is exact up to 2**53 nano-dollars (about 9 million USD per counter).
"""

from __future__ import annotations

# Helpers prepended to the scripts that need them. `drop_lease` finds the lease's user
# through its owner key, because release() is given only the reservation id.
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

#: KEYS: leases zset, lease amounts hash, lease owner key, then one spent key per limit.
#: ARGV: prefix, now, expires_at, amount, reservation id, user, lease key ttl (ms),
#: then one limit per spent key.
#: Returns {1} when granted, else {0, index of the refusing limit (1-based), spent, reserved}.
RESERVE = _HELPERS + """
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
local ttl = tonumber(ARGV[7])
redis.call('SET', KEYS[3], ARGV[6], 'PX', ttl)
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {1}
"""

#: KEYS: lease owner key, done marker, totals, by_model, by_provider, by_user, tiers,
#: day stream, days index, then the user's spent keys (one per period).
#: ARGV: prefix, reservation id ('' for a plain record), attempt nonce, marker ttl (s),
#: cost, model, provider, user, has user ('1'/'0'), tier (or the no-tier sentinel),
#: tier given ('1'/'0'), entry json, stream maxlen, day score, stream ttl (ms), day,
#: oldest day score kept, then one ttl (ms, '-1' = never expires) per spent key.
#: Returns 1 when this call (or an earlier attempt with the same nonce) recorded the entry,
#: 0 when the entry id was already recorded by someone else.
RECORD = _HELPERS + """
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
    redis.call('INCRBY', KEYS[i], cost)
    local ttl = ARGV[i + 8]
    if ttl ~= '-1' then
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
  end
end
if ARGV[13] ~= '0' then
  redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[13], '*', 'n', cost, 'e', ARGV[12])
  redis.call('PEXPIRE', KEYS[8], ARGV[15])
  redis.call('ZADD', KEYS[9], ARGV[14], ARGV[16])
  redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', '(' .. ARGV[17])
end
return 1
"""

#: KEYS: lease owner key. ARGV: prefix, reservation id. Returns 1 if the lease was open.
RELEASE = _HELPERS + """
return drop_lease(KEYS[1], ARGV[2], ARGV[1])
"""

#: KEYS: leases zset, lease amounts hash, then spent keys. ARGV: prefix, now.
#: Returns {open reserved, spent per key...}.
USAGE = _HELPERS + """
local result = {open_reserved(KEYS[1], KEYS[2], ARGV[2], ARGV[1])}
for i = 3, #KEYS do
  result[i - 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
end
return result
"""

#: KEYS: tiers hash. ARGV: user, tier (or the no-tier sentinel).
TIER = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

SCRIPTS: dict[str, str] = {
    "reserve": RESERVE,
    "record": RECORD,
    "release": RELEASE,
    "usage": USAGE,
    "tier": TIER,
}
