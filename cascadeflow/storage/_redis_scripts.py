"""The Lua of the Redis store: each ledger operation runs inside one script, so it is atomic.

Amounts are integer nano-dollars (INCRBY/HINCRBY, never floats). Lua reads them as doubles,
which is exact up to 2**53 nano-dollars (about 9 million USD per counter).

There is one script, :data:`LEDGER`. Its single argument is a JSON list of operations
``[[name, keys, args], ...]`` (all strings), and it answers ``{1, value}`` (or
``{0, error}``) per operation. One argument instead of twenty costs the client far less
CPU, and a list lets an asyncio worker send the operations of many concurrent tasks in one
call; each operation is applied whole (the batch is even atomic as a whole). The keys are
computed by the client. On standalone Redis the script declares one key. On a Redis Cluster
every call's keys share one hash slot (a tenant's bucket, or the shared slot: see
``_redis_tenants``), and the client declares every one of them, so that a reshard of that
slot makes Redis refuse a call (TRYAGAIN, ASK) rather than run it on a master holding only
some of its keys.
"""

from __future__ import annotations

# `drop_lease` finds the lease's user through its owner key, because release() is given
# only the reservation id.
_HELPERS = """
-- On a Redis Cluster the client declares every key a call touches (KEYS), so that Redis
-- refuses a call whose keys a reshard has split between two masters (TRYAGAIN, ASK) instead
-- of running it on half of them. Keys the script derives from stored values (a lease's user
-- and holds) are checked against that set before the operation writes anything.
local DECLARED = nil

local function check_declared(key)
  if DECLARED and not DECLARED[key] then
    error('key not declared to the script: ' .. key)
  end
end

-- A lease with holds on owners (scopes, caps, quotas) lists their (zset, hash) key pairs
-- under lease_holds:<rid>, so that settle and release can drop them.
-- Every key is read or checked before the first write, so an operation that fails on an
-- undeclared key has changed nothing.
local function drop_lease(owner_key, rid, prefix)
  local user = redis.call('GET', owner_key)
  if not user then return 0 end
  local zkey = prefix .. ':leases:{' .. user .. '}'
  local hkey = prefix .. ':lease_amounts:{' .. user .. '}'
  local holds_key = prefix .. ':lease_holds:' .. rid
  check_declared(zkey)
  check_declared(hkey)
  check_declared(holds_key)
  local listed = redis.call('GET', holds_key)
  local pairs_ = {}
  if listed then
    pairs_ = cjson.decode(listed)
    for i = 1, #pairs_ do
      check_declared(pairs_[i])
    end
  end
  redis.call('DEL', owner_key)
  local removed = redis.call('ZREM', zkey, rid)
  redis.call('HDEL', hkey, rid)
  for i = 1, #pairs_, 2 do
    redis.call('ZREM', pairs_[i], rid)
    redis.call('HDEL', pairs_[i + 1], rid)
  end
  if listed then
    redis.call('DEL', holds_key)
  end
  return removed
end

-- The sum of the open amounts in a (zset by expiry, hash of amounts) pair; entries past
-- their expiry are dropped on the way (an expired lease's owner key expires by itself).
local function open_sum(zkey, hkey, now)
  local expired = redis.call('ZRANGEBYSCORE', zkey, '-inf', now)
  for _, rid in ipairs(expired) do
    redis.call('HDEL', hkey, rid)
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


-- A write of an entry (record, settle, add_counted). KEYS[1]: the lease owner key, KEYS[2]:
-- the entry's done marker; ARGV: prefix, reservation id ('' for none), attempt nonce, marker
-- ttl (s). Ends the lease, then claims the marker: nil when this is the entry's first write
-- here, else the answer (1: an earlier attempt of this call, 0: someone else's).
local function begin_entry(KEYS, ARGV)
  if ARGV[2] ~= '' then
    drop_lease(KEYS[1], ARGV[2], ARGV[1])
  end
  if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then
    return nil
  end
  if redis.call('GET', KEYS[2]) == ARGV[3] then
    return 1
  end
  return 0
end

local function bump(key, amount, ttl)
  -- A counter gets its expiry when it is created (its value is then this amount).
  if redis.call('INCRBY', key, amount) == tonumber(amount) and ttl ~= '-1' then
    redis.call('PEXPIRE', key, ttl)
  end
end

"""

# reserve. KEYS: leases zset, lease amounts hash, lease owner key, then one spent key per
# limit. ARGV: prefix, now, expires_at, amount, reservation id, user, lease key ttl (ms),
# then one limit per spent key.
# Returns {1} when granted, else {0, index of the refusing limit (1-based), spent, reserved}.
_RESERVE = """
local function op_reserve(KEYS, ARGV)
  local reserved = open_sum(KEYS[1], KEYS[2], ARGV[2])
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

# reserve_counted: reserve with owners' counters too (see CounterLimit). KEYS: leases zset,
# lease amounts hash, lease owner key, lease_holds key, the n user spent keys, then per
# counter: counter key, holds zset, hold amounts hash. ARGV: prefix, now, expires_at,
# amount, reservation id, user, lease key ttl (ms), n, the n user limits, then per counter:
# limit, hold, add, counter ttl (ms, '-1' never), owner.
# Returns {1} when granted, else {0, index of the refusing check (user limits first,
# 1-based), counter value, held}.
_RESERVE_COUNTED = """
local function op_reserve_counted(KEYS, ARGV)
  local n = tonumber(ARGV[8])
  local reserved = open_sum(KEYS[1], KEYS[2], ARGV[2])
  local amount = tonumber(ARGV[4])
  for i = 1, n do
    local limit = tonumber(ARGV[8 + i])
    local spent = tonumber(redis.call('GET', KEYS[4 + i]) or '0')
    local used = spent + reserved
    if used >= limit or used + amount > limit then
      return {0, i, spent, reserved}
    end
  end
  local m = (#KEYS - 4 - n) / 3
  local held = {}
  for j = 1, m do
    local k = 4 + n + (j - 1) * 3
    local a = 8 + n + (j - 1) * 5
    local owner = ARGV[a + 5]
    if held[owner] == nil then
      held[owner] = open_sum(KEYS[k + 2], KEYS[k + 3], ARGV[2])
    end
    local value = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
    local used = value + held[owner]
    local limit = tonumber(ARGV[a + 1])
    local want = tonumber(ARGV[a + 2]) + tonumber(ARGV[a + 3])
    if used >= limit or used + want > limit then
      return {0, n + j, value, held[owner]}
    end
  end
  local ttl = tonumber(ARGV[7])
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[4])
  redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[7])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], 2 * ttl)
    redis.call('PEXPIRE', KEYS[2], 2 * ttl)
  end
  local listed = {}
  local seen = {}
  for j = 1, m do
    local k = 4 + n + (j - 1) * 3
    local a = 8 + n + (j - 1) * 5
    local owner = ARGV[a + 5]
    if ARGV[a + 2] ~= '0' and not seen[owner] then
      seen[owner] = true
      redis.call('ZADD', KEYS[k + 2], ARGV[3], ARGV[5])
      redis.call('HSET', KEYS[k + 3], ARGV[5], ARGV[a + 2])
      if redis.call('PTTL', KEYS[k + 2]) < ttl then
        redis.call('PEXPIRE', KEYS[k + 2], 2 * ttl)
        redis.call('PEXPIRE', KEYS[k + 3], 2 * ttl)
      end
      listed[#listed + 1] = KEYS[k + 2]
      listed[#listed + 1] = KEYS[k + 3]
    end
    if ARGV[a + 3] ~= '0' then
      bump(KEYS[k + 1], ARGV[a + 3], ARGV[a + 4])
    end
  end
  if #listed > 0 then
    redis.call('SET', KEYS[4], cjson.encode(listed), 'PX', ARGV[7])
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
# record_counted is record with owners' increments: ARGV[18] is their number k, the user
# keys' ttls follow from ARGV[19], then (ttl, amount) per owner counter; the owner counter
# keys are the last k KEYS. Its answer is record's.
_RECORD = """
local function record_entry(KEYS, ARGV, last_user_key, ttl_offset)
  local seen = begin_entry(KEYS, ARGV)
  if seen then
    return seen
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
    for i = 10, last_user_key do
      bump(KEYS[i], cost, ARGV[i + ttl_offset])
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
  return 2
end

local function op_record(KEYS, ARGV)
  return math.min(record_entry(KEYS, ARGV, #KEYS, 8), 1)
end

local function op_record_counted(KEYS, ARGV)
  local k = tonumber(ARGV[18])
  local last = #KEYS - k
  local done = record_entry(KEYS, ARGV, last, 9)
  if done == 2 then
    local base = 19 + (last - 9)
    for j = 1, k do
      bump(KEYS[last + j], ARGV[base + 2 * (j - 1) + 1], ARGV[base + 2 * (j - 1)])
    end
  end
  return math.min(done, 1)
end
"""

# add_counted: on a Redis Cluster, the part of a settle (or record) that lives in another hash
# slot than the entry's: increments of owners kept there, and the end of the lease's part
# there. KEYS: lease owner key, done marker, then one counter key per increment. ARGV: prefix,
# reservation id ('' for none), attempt nonce, marker ttl (s), then (ttl, amount) per counter.
# Answers as record does: 1 when this call (or an earlier attempt with the same nonce) applied
# it, 0 when the entry id was applied here already by someone else.
_ADD_COUNTED = """
local function op_add_counted(KEYS, ARGV)
  local seen = begin_entry(KEYS, ARGV)
  if seen then
    return seen
  end
  for j = 3, #KEYS do
    local a = 5 + (j - 3) * 2
    bump(KEYS[j], ARGV[a + 1], ARGV[a])
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

-- withdraw: the first step of a two-step reserve whose later step refused (or failed):
-- end its lease and take back what its admission added (rate-limit windows), so the request
-- counts nowhere, as a one-step refusal. KEYS: lease owner key, then the counters added to.
-- ARGV: prefix, reservation id, then the amount added to each counter. Only while the lease
-- exists (so a retried withdraw takes back once); a window that has expired is left alone.
local function op_withdraw(KEYS, ARGV)
  local removed = drop_lease(KEYS[1], ARGV[2], ARGV[1])
  if removed == 0 then
    return 0
  end
  for i = 2, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      redis.call('DECRBY', KEYS[i], ARGV[i + 1])
    end
  end
  return removed
end

local function op_usage(KEYS, ARGV)
  local result = {open_sum(KEYS[1], KEYS[2], ARGV[2])}
  for i = 3, #KEYS do
    result[i - 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  return result
end

local function op_tier(KEYS, ARGV)
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end

-- counters. KEYS: counter keys (n), then a (holds zset, amounts hash) pair per owner.
-- ARGV: n, now. Returns {values..., held per owner...}.
local function op_counters(KEYS, ARGV)
  local n = tonumber(ARGV[1])
  local result = {}
  for i = 1, n do
    result[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  for i = n + 1, #KEYS, 2 do
    result[#result + 1] = open_sum(KEYS[i], KEYS[i + 1], ARGV[2])
  end
  return result
end

-- lease_keys. KEYS: lease owner key, lease_holds key. Returns {user or '', holds listing or
-- ''}: what a settle or release of the lease touches, for the client to declare.
local function op_lease_keys(KEYS, ARGV)
  return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or ''}
end

-- setting. KEYS: settings hash, version key. ARGV: name, value, '1' to remove.
local function op_setting(KEYS, ARGV)
  if ARGV[3] == '1' then
    redis.call('HDEL', KEYS[1], ARGV[1])
  else
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  end
  return redis.call('INCR', KEYS[2])
end
"""

_DISPATCH = """
local ops = {reserve = op_reserve, record = op_record, release = op_release,
             usage = op_usage, tier = op_tier, reserve_counted = op_reserve_counted,
             record_counted = op_record_counted, counters = op_counters,
             setting = op_setting, lease_keys = op_lease_keys,
             add_counted = op_add_counted, withdraw = op_withdraw}
if #KEYS > 1 then
  DECLARED = {}
  for _, key in ipairs(KEYS) do
    DECLARED[key] = true
  end
end
local results = {}
for i, call in ipairs(cjson.decode(ARGV[1])) do
  local keys = call[2]
  if DECLARED then
    -- Declared keys are sent once, in KEYS; an operation names its own by position.
    local named = {}
    for j, position in ipairs(keys) do
      named[j] = KEYS[position]
    end
    keys = named
  end
  local ok, value = pcall(ops[call[1]], keys, call[3])
  if ok then
    results[i] = {1, value}
  else
    results[i] = {0, tostring(value.err or value)}
  end
end
return results
"""

#: The one script: every ledger operation, dispatched by name.
LEDGER = (_HELPERS + _RESERVE + _RESERVE_COUNTED + _RECORD + _ADD_COUNTED + _SMALL_OPS
          + _DISPATCH)

#: The operations :data:`LEDGER` knows.
OPERATIONS = frozenset({"reserve", "record", "release", "usage", "tier", "reserve_counted",
                        "record_counted", "counters", "setting", "lease_keys",
                        "add_counted", "withdraw"})
