--[[
meter.lua: every balance movement of billing, as one atomic Redis script.

Loaded once (SCRIPT LOAD) and run with EVALSHA by billing/meter.py; Redis 6.2 and 7 (no FUNCTION).
Keys are built from the prefix in ARGV[2] instead of being declared in KEYS: fine on one Redis
server, not on Redis Cluster.

  ARGV[1] = "charge":   ARGV[2] prefix, ARGV[3] view state TTL in seconds (0: none), ARGV[4] the
                        number of charges n, ARGV[5] the charges, one line each (see LINE below).
                        Returns one string: n status digits (1 charged, 2 duplicate,
                        3 insufficient, 4 overflow), then per charge the viewer's balance after
                        the whole batch, space separated.
  ARGV[1] = "credit":   ARGV[2] prefix, ARGV[3] user_id, ARGV[4] amount, ARGV[5] idempotency key.
                        Returns 1 when credited now, 0 when the key was already used.
  ARGV[1] = "withdraw": same arguments. Returns 1 when debited (now or by an earlier call with the
                        same key), 0 when the balance is below the amount (nothing written).

Money invariants enforced here (proved in tests/billing/test_meter.py):
  2. Each (view, second) is charged at most once: a view remembers its last charged second and
     a second not after it is a duplicate (test_same_view_second_charged_once*, test_kill_9*).
  3. Each charge debits price, credits creator price - fee and the platform fee, and is written
     to the ledger (one stream entry per batch) in the same script
     (test_random_batches_balance_to_the_planck, test_kill_9*).

Why the arithmetic looks odd: Lua numbers are doubles, exact only up to 2^53, while amounts go up
to 2^63-1 planck. Amounts travel as decimal strings and are split into two exact limbs (hi, lo)
in base 1e9; no large amount ever passes through one Lua number.

Why two passes: a script that fails half-way keeps the writes it already made. All reads and
checks happen first; the writes come after and cannot fail.
]]

local BASE = 1000000000
local MAX_HI, MAX_LO = 9223372036, 854775807 -- 2^63-1, the largest Redis integer
local CHARGED, DUPLICATE, INSUFFICIENT, OVERFLOW = 1, 2, 3, 4

local function limbs(s)
  if not s then return 0, 0 end -- absent key
  local n = #s
  if n > 24 or not string.find(s, '^%d+$') then
    error('not a non-negative integer: ' .. tostring(s))
  end
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end

local function add(ah, al, bh, bl)
  local lo = al + bl
  if lo >= BASE then return ah + bh + 1, lo - BASE end
  return ah + bh, lo
end

local function sub(ah, al, bh, bl) -- caller guarantees a >= b
  local lo = al - bl
  if lo < 0 then return ah - bh - 1, lo + BASE end
  return ah - bh, lo
end

local function less(ah, al, bh, bl)
  return ah < bh or (ah == bh and al < bl)
end

local function overflows(h, l)
  return less(MAX_HI, MAX_LO, h, l)
end

local function text(h, l)
  if h > 0 then return string.format('%d%09d', h, l) end
  return string.format('%d', l)
end

-- A cached amount read from one Redis string key: {hi, lo, key, dirty, text once stored}.
local function load_amount(cache, order, key)
  local a = cache[key]
  if not a then
    local h, l = limbs(redis.call('GET', key))
    a = {h, l, key, false}
    cache[key] = a
    order[#order + 1] = a
  end
  return a
end

local function store_amounts(order)
  for _, a in ipairs(order) do
    if a[4] then
      a[5] = text(a[1], a[2])
      redis.call('SET', a[3], a[5])
    end
  end
end

local TOTAL_FIELDS = {'debits', 'credits', 'fees', 'deposits', 'withdrawals'}

local function load_totals(P)
  local raw = redis.call('HMGET', P .. 'totals', unpack(TOTAL_FIELDS))
  local t = {}
  for i, name in ipairs(TOTAL_FIELDS) do
    local h, l = limbs(raw[i])
    t[name] = {h, l}
  end
  return t
end

-- Totals are kept counters read only by reconcile: they are not held to 2^63-1 (limbs stay
-- exact up to ~9e24 planck), so they can never stop billing.
local function bump_total(t, name, h, l)
  t[name][1], t[name][2] = add(t[name][1], t[name][2], h, l)
end

local function store_totals(P, t)
  local args = {}
  for _, name in ipairs(TOTAL_FIELDS) do
    args[#args + 1] = name
    args[#args + 1] = text(t[name][1], t[name][2])
  end
  redis.call('HSET', P .. 'totals', unpack(args))
end

-- A view's idempotency state, one string "last_second ticks" (one GET and one SET per second).
local function load_view(views, order, P, view_id)
  local v = views[view_id]
  if not v then
    local key = P .. 'view:' .. view_id
    local raw = redis.call('GET', key)
    local last, ticks = -1, 0
    if raw then
      local _, _, l, t = string.find(raw, '^(%d+) (%d+)$')
      if not l then error('bad view state at ' .. key) end
      last, ticks = tonumber(l), tonumber(t)
    end
    v = {key = key, last0 = last, last = last, ticks0 = ticks, ticks = ticks}
    views[view_id] = v
    order[#order + 1] = v
  end
  return v
end

-- SET ... EX costs half as much again as SET ... KEEPTTL: the TTL is set on a view's first charge
-- and refreshed on its first charge in each wall-clock hour, so it runs out at least ttl - 3600 s
-- after the view's last charged second.
local function store_views(order, ttl)
  for _, v in ipairs(order) do
    if v.ticks ~= v.ticks0 then
      local state = string.format('%d %d', v.last, v.ticks)
      if ttl > 0 and (v.ticks0 == 0 or math.floor(v.last0 / 3600) ~= math.floor(v.last / 3600)) then
        redis.call('SET', v.key, state, 'EX', ttl)
      else
        redis.call('SET', v.key, state, 'KEEPTTL')
      end
    end
  end
end

-- One charge per line: "view_id viewer_id stream_id creator_id second price fee\n". A packed
-- string instead of 7 ARGV per charge: the Python client spends less time encoding arguments.
local LINE = '^([^ \n]+) ([^ \n]+) ([^ \n]+) ([^ \n]+) (%d+) (%d+) (%d+)\n'

-- A batch has few distinct prices: parse each (price, fee) once into limbs.
local function parse_price(cache, price, fee)
  local by_fee = cache[price]
  if not by_fee then
    by_fee = {}
    cache[price] = by_fee
  end
  local p = by_fee[fee]
  if not p then
    local ph, pl = limbs(price)
    local fh, fl = limbs(fee)
    if less(ph, pl, fh, fl) then error('fee ' .. fee .. ' exceeds price ' .. price) end
    local ch, cl = sub(ph, pl, fh, fl)
    p = {ph, pl, fh, fl, ch, cl}
    by_fee[fee] = p
  end
  return p
end

local function delta(after, before, name)
  local h, l = sub(after[name][1], after[name][2], before[name][1], before[name][2])
  return text(h, l)
end

local function charge(P, ttl, n, batch)
  local views, view_order = {}, {}
  local amounts, amount_order = {}, {}
  local stream_ticks, stream_order = {}, {}
  local prices = {}
  local totals0, totals = load_totals(P), load_totals(P)
  local fee_total = load_amount(amounts, amount_order, P .. 'fee:platform')
  local status, viewer_bal = {}, {}
  local charged, pos = 0, 1

  -- Pass 1: reads and decisions, no writes.
  for i = 1, n do
    local _, stop, view_id, viewer_id, stream_id, creator_id, sec, price, fee =
      string.find(batch, LINE, pos)
    if not stop then error('malformed charge ' .. i) end
    pos = stop + 1
    if #sec > 15 then error('second out of range in charge ' .. i) end -- exact as a double
    local second = tonumber(sec)
    local p = parse_price(prices, price, fee)
    local view = load_view(views, view_order, P, view_id)
    local bal = load_amount(amounts, amount_order, P .. 'bal:' .. viewer_id)
    viewer_bal[i] = bal
    if second <= view.last then
      status[i] = DUPLICATE
    elseif less(bal[1], bal[2], p[1], p[2]) then
      status[i] = INSUFFICIENT
    else
      local earn = load_amount(amounts, amount_order, P .. 'earn:' .. creator_id)
      local eh, el = add(earn[1], earn[2], p[5], p[6])
      local xh, xl = add(fee_total[1], fee_total[2], p[3], p[4])
      if overflows(eh, el) or overflows(xh, xl) then
        status[i] = OVERFLOW
      else
        status[i] = CHARGED
        charged = charged + 1
        bal[1], bal[2] = sub(bal[1], bal[2], p[1], p[2])
        earn[1], earn[2], fee_total[1], fee_total[2] = eh, el, xh, xl
        bal[4], earn[4], fee_total[4] = true, true, true
        bump_total(totals, 'debits', p[1], p[2])
        bump_total(totals, 'credits', p[5], p[6])
        bump_total(totals, 'fees', p[3], p[4])
        view.last, view.ticks = second, view.ticks + 1
        if not stream_ticks[stream_id] then
          stream_ticks[stream_id] = 0
          stream_order[#stream_order + 1] = stream_id
        end
        stream_ticks[stream_id] = stream_ticks[stream_id] + 1
      end
    end
  end
  if pos ~= #batch + 1 then error('charge count does not match the batch') end
  local statuses = table.concat(status)

  -- Pass 2: writes.
  if charged > 0 then
    -- One ledger entry per batch (format: billing/ledger.py); its stream id is the batch id.
    -- It keeps the batch as sent and the status of each line: no per-charge string building.
    redis.call('XADD', P .. 'ledger', '*', 'count', charged,
      'amount', delta(totals, totals0, 'debits'),
      'creator_amount', delta(totals, totals0, 'credits'),
      'fee', delta(totals, totals0, 'fees'),
      'status', statuses, 'charges', batch)
    store_totals(P, totals)
  end
  store_views(view_order, ttl)
  for _, s in ipairs(stream_order) do
    redis.call('INCRBY', P .. 'stream:' .. s .. ':ticks', stream_ticks[s])
  end
  store_amounts(amount_order)

  -- Reply: the status digits, then each charge's viewer balance, space separated.
  local out = {statuses}
  for i = 1, n do
    local bal = viewer_bal[i]
    if not bal[5] then bal[5] = text(bal[1], bal[2]) end
    out[i + 1] = bal[5]
  end
  return table.concat(out, ' ')
end

-- Deposits and withdrawals: exactly once per idempotency key, remembered in the `idem` hash.
local function balance_move(P, op, user_id, amount, key)
  local ah, al = limbs(amount)
  local idem_field = op .. ':' .. key
  local record = user_id .. ' ' .. amount
  local seen = redis.call('HGET', P .. 'idem', idem_field)
  if seen then
    if seen ~= record then error('idempotency key ' .. key .. ' reused for ' .. record) end
    if op == 'credit' then return 0 end
    return 1
  end
  local cache = {}
  local bal = load_amount(cache, {}, P .. 'bal:' .. user_id)
  local totals = load_totals(P)
  if op == 'credit' then
    bal[1], bal[2] = add(bal[1], bal[2], ah, al)
    if overflows(bal[1], bal[2]) then error('balance of ' .. user_id .. ' would overflow') end
    bump_total(totals, 'deposits', ah, al)
  else
    if less(bal[1], bal[2], ah, al) then return 0 end
    bal[1], bal[2] = sub(bal[1], bal[2], ah, al)
    bump_total(totals, 'withdrawals', ah, al)
  end
  redis.call('HSET', P .. 'idem', idem_field, record)
  redis.call('SET', P .. 'bal:' .. user_id, text(bal[1], bal[2]))
  store_totals(P, totals)
  return 1
end

local op, P = ARGV[1], ARGV[2]
if op == 'charge' then return charge(P, tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]) end
if op == 'credit' or op == 'withdraw' then
  return balance_move(P, op, ARGV[3], ARGV[4], ARGV[5])
end
error('unknown meter operation ' .. tostring(op))
