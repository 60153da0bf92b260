--[[
meter.lua: every balance movement of billing, as one atomic Redis script.

Loaded once (SCRIPT LOAD) and run with EVALSHA by billing/meter.py; Redis 6.2 and 7 (no FUNCTION).
Keys are built from the prefix in ARGV[2] instead of being declared in KEYS: fine on one Redis
server, not on Redis Cluster.

  ARGV[1] = "charge":   ARGV[2] prefix, ARGV[3] view state TTL in seconds (0: none), ARGV[4] the
                        number of charges n (at most MAX_CHARGES), ARGV[5] the charges, one line
                        each (see LINE below).
                        Returns one string: n status digits (1 charged, 2 duplicate,
                        3 insufficient, 4 overflow), then per charge the viewer's balance after
                        the whole batch, space separated.
  ARGV[1] = "views":    ARGV[2] prefix, ARGV[3] view state TTL, ARGV[4..] view ids. Returns
                        each view's state "last_second ticks" ("-1 0" when unknown).
  ARGV[1] = "credit":   ARGV[2] prefix, ARGV[3] user_id, ARGV[4] amount, ARGV[5] idempotency key.
                        Returns 1 when credited now, 0 when the key was already used.
  ARGV[1] = "withdraw": same arguments. Returns 1 when debited (now or by an earlier call with the
                        same key), 0 when the balance is below the amount (nothing written).
  ARGV[1] = "pay":      ARGV[2] prefix, ARGV[3..9] kind, payment id, viewer, creator, ref, amount,
                        fee. Returns "outcome fresh" (see pay below).

Money invariants enforced here (proved in tests/billing/test_meter.py):
  2. Each (view, second) is charged at most once: a view remembers its last charged second and
     a second not after it is a duplicate (test_same_view_second_charged_once*, test_kill_9*).
  3. Each charge debits price, credits creator price - fee and the platform fee, and is written
     to the ledger (one stream entry per batch) in the same script
     (test_random_batches_balance_to_the_planck, test_kill_9*).

Why the arithmetic looks odd: Lua numbers are doubles, exact only up to 2^53, while amounts go up
to 2^63-1 planck. Amounts travel as decimal strings and are split into two exact limbs (hi, lo)
in base 1e9; no large amount ever passes through one Lua number.

Why three steps (parse, decide, write): a script that fails half-way keeps the writes it already
made. All reads and checks happen first; the writes come after and cannot fail.

Why MGET/MSET and hash buckets: each redis.call costs about as much as all the Lua work of a
charge, so a batch reads balances and earnings in one MGET and writes them in one MSET, and
reads and writes view states in a few HMGET/HSET on hourly buckets (see load_views).
]]

local BASE = 1000000000
local MAX_HI, MAX_LO = 9223372036, 854775807 -- 2^63-1, the largest Redis integer
local CHARGED, DUPLICATE, INSUFFICIENT, OVERFLOW = 1, 2, 3, 4
local MAX_CHARGES = 100000 -- keeps count * limb (see scaled) below 2^53
local SLICE = 4000 -- unpack() in Redis' Lua takes at most ~8000 values

local function limbs(s)
  if not s then return 0, 0 end -- absent key (MGET gives false)
  local n = #s
  if n > 24 or not string.find(s, '^%d+$') then
    error('not a non-negative integer: ' .. tostring(s))
  end
  if n <= 9 then return 0, tonumber(s) end
  if n <= 15 then -- below 2^53: one exact number, split without making substrings
    local x = tonumber(s)
    local h = math.floor(x / BASE)
    return h, x - h * BASE
  end
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

-- (h, l) * k for a count k <= MAX_CHARGES: l * k < 2^53, and floor(l * k / BASE) is exact.
local function scaled(h, l, k)
  local lo = l * k
  local carry = math.floor(lo / BASE)
  return h * k + carry, lo - carry * BASE
end

local function text(h, l)
  if h > 0 then return string.format('%d%09d', h, l) end
  return string.format('%d', l)
end

-- Runs a command over a long list of arguments (after `key`, if any) in slices that unpack()
-- accepts (SLICE is even: key/value pairs stay whole). Returns the replies of reads (MGET, HMGET)
-- joined in order.
local function sliced(command, key, args)
  local out = {}
  for i = 1, #args, SLICE do
    local last = math.min(i + SLICE - 1, #args)
    local reply
    if key then
      reply = redis.call(command, key, unpack(args, i, last))
    else
      reply = redis.call(command, unpack(args, i, last))
    end
    if command == 'MGET' or command == 'HMGET' then
      for j = 1, #reply do out[i + j - 1] = reply[j] end
    end
  end
  return out
end

-- Amounts kept in Redis string keys, as columns indexed by a number (no table per amount: fewer
-- allocations): key, hi, lo, dirty, text. `text` is what the key holds (read, or written at the
-- end), so the reply needs no formatting for untouched amounts.
local function new_amounts()
  return {n = 0, key = {}, hi = {}, lo = {}, dirty = {}, text = {}}
end

local function new_amount(A, key)
  local k = A.n + 1
  A.n, A.key[k], A.hi[k], A.lo[k], A.dirty[k], A.text[k] = k, key, 0, 0, false, '0'
  return k
end

local function load_amounts(A)
  local hi, lo, texts = A.hi, A.lo, A.text
  for k, raw in ipairs(sliced('MGET', nil, A.key)) do
    hi[k], lo[k] = limbs(raw)
    if raw then texts[k] = raw end
  end
end

local function store_amounts(A)
  local writes = {}
  for k = 1, A.n do
    if A.dirty[k] then
      A.text[k] = text(A.hi[k], A.lo[k])
      writes[#writes + 1] = A.key[k]
      writes[#writes + 1] = A.text[k]
    end
  end
  sliced('MSET', nil, writes)
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

-- A view's idempotency state is "last_second ticks", a field of an hourly hash bucket
-- P..'views:'..hour, the wall-clock hour (Redis TIME) in which it was last written; a bucket
-- expires `ttl` seconds after its last write, so a state outlives its view's last charge by at
-- least `ttl`. Buckets instead of one key per view: the batch reads and writes all its views in a
-- few HMGET/HSET calls (a SET per view, to keep its TTL, cost more than the rest of a charge).
-- A state is read from the newest bucket that holds it and moved to the current one when written.
-- ttl 0: one bucket that never expires. Buckets are searched from the current hour back: if the
-- Redis clock stepped back by an hour or more, states written "later" are not found.
local function view_hours(ttl)
  if ttl == 0 then return 0, 0 end
  local now = math.floor(tonumber(redis.call('TIME')[1]) / 3600)
  return now, now - math.ceil(ttl / 3600) - 1 -- older buckets have expired
end

-- Views, as columns indexed by a number (no table per view: fewer allocations): id, last, ticks0
-- (as read), ticks, hour (of the bucket it was found in, or false).
local function new_views()
  return {n = 0, index = {}, id = {}, last = {}, ticks0 = {}, ticks = {}, hour = {}}
end

local function new_view(V, view_id)
  local k = V.n + 1
  V.n, V.index[view_id], V.id[k] = k, k, view_id
  V.last[k], V.ticks0[k], V.ticks[k], V.hour[k] = -1, 0, 0, false
  return k
end

local function load_views(P, ttl, V)
  local now, oldest = view_hours(ttl)
  local missing = {}
  for k = 1, V.n do missing[k] = k end
  for hour = now, oldest, -1 do
    if #missing == 0 then break end
    local fields = {}
    for i, k in ipairs(missing) do fields[i] = V.id[k] end
    local bucket, still = P .. 'views:' .. hour, {}
    for i, raw in ipairs(sliced('HMGET', bucket, fields)) do
      local k = missing[i]
      if raw then
        local _, _, l, t = string.find(raw, '^(%d+) (%d+)$')
        if not l then error('bad view state ' .. V.id[k] .. ' in ' .. bucket) end
        l, t = tonumber(l), tonumber(t)
        V.last[k], V.ticks0[k], V.ticks[k], V.hour[k] = l, t, t, hour
      else
        still[#still + 1] = k
      end
    end
    missing = still
  end
  return now
end

local function store_views(P, ttl, now, V)
  local writes, moved = {}, {}
  for k = 1, V.n do
    if V.ticks[k] ~= V.ticks0[k] then
      writes[#writes + 1] = V.id[k]
      writes[#writes + 1] = string.format('%d %d', V.last[k], V.ticks[k])
      local hour = V.hour[k]
      if hour and hour ~= now then
        moved[hour] = moved[hour] or {}
        table.insert(moved[hour], V.id[k])
      end
    end
  end
  if #writes == 0 then return end
  local bucket = P .. 'views:' .. now
  sliced('HSET', bucket, writes)
  if ttl > 0 then redis.call('EXPIRE', bucket, ttl) end
  for hour, fields in pairs(moved) do sliced('HDEL', P .. 'views:' .. hour, fields) end
end

-- One charge per line: "view_id viewer_id stream_id creator_id second price fee\n". A packed
-- string instead of 7 ARGV per charge: the Python client spends less time encoding arguments.
-- "stream_id creator_id" and "price fee" are captured whole: they repeat across a batch, so
-- each distinct one is split only once (fewer strings made per line).
local LINE = '^([^ \n]+) ([^ \n]+) ([^ \n]+ [^ \n]+) (%d+) (%d+ %d+)\n'

-- A batch has few distinct prices: parse each "price fee" once into limbs, and count the
-- charges made at it so the batch sums take one multiplication per price, not an add per charge.
-- {price hi, lo, fee hi, lo, creator hi, lo, charged count}
local function parse_price(list, price_fee)
  local _, _, price, fee = string.find(price_fee, '^(%d+) (%d+)$')
  local ph, pl = limbs(price)
  local fh, fl = limbs(fee)
  if less(ph, pl, fh, fl) then error('fee ' .. fee .. ' exceeds price ' .. price) end
  local ch, cl = sub(ph, pl, fh, fl)
  local p = {ph, pl, fh, fl, ch, cl, 0}
  list[#list + 1] = p
  return p
end

-- The batch sums (debits, creator credits, fees) as limbs, from the per-price counts.
local function batch_sums(price_list)
  local s = {0, 0, 0, 0, 0, 0}
  for _, p in ipairs(price_list) do
    if p[7] > 0 then
      for j = 1, 5, 2 do
        local h, l = scaled(p[j], p[j + 1], p[7])
        s[j], s[j + 1] = add(s[j], s[j + 1], h, l)
      end
    end
  end
  return s
end

-- A "stream_id creator_id" pair: {stream_id, index of the creator's earnings amount}.
local function parse_pair(P, amounts, earns, pair)
  local _, _, stream_id, creator_id = string.find(pair, '^([^ ]+) ([^ ]+)$')
  local earn = earns[creator_id]
  if not earn then
    earn = new_amount(amounts, P .. 'earn:' .. creator_id)
    earns[creator_id] = earn
  end
  return {stream_id, earn}
end

-- Step 1: parse the lines; name each view, viewer, stream and creator once. Per line it keeps
-- indexes into the view and amount columns, the pair, the second and the price.
local function parse(P, n, batch)
  local view_of, bal_of, pair_of, second_of, price_of = {}, {}, {}, {}, {}
  local V, A, price_list = new_views(), new_amounts(), {}
  local vindex, bals, pairs_, earns, prices = V.index, {}, {}, {}, {}
  local pos = 1
  for i = 1, n do
    local _, stop, view_id, viewer_id, pair, sec, price_fee = string.find(batch, LINE, pos)
    if not stop then error('malformed charge ' .. i) end
    pos = stop + 1
    if #sec > 15 then error('second out of range in charge ' .. i) end -- exact as a double
    local v = vindex[view_id] or new_view(V, view_id)
    local bal = bals[viewer_id]
    if not bal then
      bal = new_amount(A, P .. 'bal:' .. viewer_id)
      bals[viewer_id] = bal
    end
    local sc = pairs_[pair]
    if not sc then
      sc = parse_pair(P, A, earns, pair)
      pairs_[pair] = sc
    end
    local p = prices[price_fee]
    if not p then
      p = parse_price(price_list, price_fee)
      prices[price_fee] = p
    end
    view_of[i], bal_of[i], pair_of[i], second_of[i], price_of[i] = v, bal, sc, tonumber(sec), p
  end
  if pos ~= #batch + 1 then error('charge count does not match the batch') end
  return {
    view = view_of, bal = bal_of, pair = pair_of, second = second_of, price = price_of,
    views = V, amounts = A, prices = price_list, fee_total = new_amount(A, P .. 'fee:platform'),
  }
end

-- Step 2: decide each charge in order against the state read once; no writes.
local function decide(b, n)
  local status, stream_ticks, stream_order = {}, {}, {}
  local view_of, bal_of, price_of, second_of, pair_of = b.view, b.bal, b.price, b.second, b.pair
  local last, ticks = b.views.last, b.views.ticks
  local hi, lo, dirty, f = b.amounts.hi, b.amounts.lo, b.amounts.dirty, b.fee_total
  for i = 1, n do
    local v, a, p, second = view_of[i], bal_of[i], price_of[i], second_of[i]
    if second <= last[v] then
      status[i] = DUPLICATE
    elseif less(hi[a], lo[a], p[1], p[2]) then
      status[i] = INSUFFICIENT
    else
      local pair = pair_of[i]
      local e = pair[2]
      local eh, el = add(hi[e], lo[e], p[5], p[6])
      local xh, xl = add(hi[f], lo[f], p[3], p[4])
      if overflows(eh, el) or overflows(xh, xl) then
        status[i] = OVERFLOW
      else
        status[i] = CHARGED
        p[7] = p[7] + 1
        hi[a], lo[a] = sub(hi[a], lo[a], p[1], p[2])
        hi[e], lo[e], hi[f], lo[f] = eh, el, xh, xl
        dirty[a], dirty[e], dirty[f] = true, true, true
        last[v], ticks[v] = second, ticks[v] + 1
        local s = pair[1]
        local count = stream_ticks[s]
        if not count then
          count = 0
          stream_order[#stream_order + 1] = s
        end
        stream_ticks[s] = count + 1
      end
    end
  end
  return table.concat(status), stream_ticks, stream_order
end

local function charge(P, ttl, n, batch)
  if n < 1 or n > MAX_CHARGES then error('charge count must be within 1..' .. MAX_CHARGES) end
  local b = parse(P, n, batch)
  local now = load_views(P, ttl, b.views)
  load_amounts(b.amounts)
  local statuses, stream_ticks, stream_order = decide(b, n)

  -- Step 3: writes.
  if #stream_order > 0 then
    -- One ledger entry per batch (format: billing/ledger.py); its stream id is the batch id.
    -- It keeps the batch as sent and the status of each line: no per-charge string building.
    local s = batch_sums(b.prices)
    local charged = 0
    for _, count in pairs(stream_ticks) do charged = charged + count end
    redis.call('XADD', P .. 'ledger', '*', 'count', charged,
      'amount', text(s[1], s[2]), 'creator_amount', text(s[5], s[6]), 'fee', text(s[3], s[4]),
      'status', statuses, 'charges', batch)
    local totals = load_totals(P)
    bump_total(totals, 'debits', s[1], s[2])
    bump_total(totals, 'credits', s[5], s[6])
    bump_total(totals, 'fees', s[3], s[4])
    store_totals(P, totals)
  end
  store_views(P, ttl, now, b.views)
  for _, s in ipairs(stream_order) do
    redis.call('INCRBY', P .. 'stream:' .. s .. ':ticks', stream_ticks[s])
  end
  store_amounts(b.amounts)

  -- Reply: the status digits, then each charge's viewer balance, space separated.
  local out, bal_of, texts = {statuses}, b.bal, b.amounts.text
  for i = 1, n do out[i + 1] = texts[bal_of[i]] end
  return table.concat(out, ' ')
end

-- What an idempotency field of the `idem` hash remembers: nil when unused, else the outcome
-- stored after the request's record ('' when only the record is kept). A field used for
-- another request raises: one key never stands for two different moves of money.
local function remembered(P, field, record)
  local seen = redis.call('HGET', P .. 'idem', field)
  if not seen then return nil end
  if seen ~= record and string.sub(seen, 1, #record + 1) ~= record .. ' ' then
    error('idempotency key ' .. field .. ' reused for ' .. record)
  end
  return string.sub(seen, #record + 2)
end

-- Deposits and withdrawals: exactly once per idempotency key, remembered in the `idem` hash.
local function balance_move(P, op, user_id, amount, key)
  local ah, al = limbs(amount)
  local idem_field = op .. ':' .. key
  local record = user_id .. ' ' .. amount
  if remembered(P, idem_field, record) then
    if op == 'credit' then return 0 end
    return 1
  end
  local bal_key = P .. 'bal:' .. user_id
  local bh, bl = limbs(redis.call('GET', bal_key))
  local totals = load_totals(P)
  if op == 'credit' then
    bh, bl = add(bh, bl, ah, al)
    if overflows(bh, bl) then error('balance of ' .. user_id .. ' would overflow') end
    bump_total(totals, 'deposits', ah, al)
  else
    if less(bh, bl, ah, al) then return 0 end
    bh, bl = sub(bh, bl, ah, al)
    bump_total(totals, 'withdrawals', ah, al)
  end
  redis.call('HSET', P .. 'idem', idem_field, record)
  redis.call('SET', bal_key, text(bh, bl))
  store_totals(P, totals)
  return 1
end

-- One-off payments (tips): the viewer pays `amount`, the creator earns amount - fee, the
-- platform the fee; kept totals and one ledger entry (kind, format in billing/ledger.py) in the
-- same step. Exactly once per payment id: the `idem` hash keeps the outcome, paid or refused
-- (short balance), so a retry moves nothing and answers the first outcome.
-- Reply: "outcome fresh", outcome 1 paid or 3 refused, fresh 1 when decided by this call.
local function pay(P, kind, payment_id, viewer_id, creator_id, ref, amount, fee)
  local ah, al = limbs(amount)
  local fh, fl = limbs(fee)
  if less(ah, al, fh, fl) then error('fee ' .. fee .. ' exceeds amount ' .. amount) end
  if viewer_id == creator_id then error('a payment to oneself: ' .. viewer_id) end
  local field = 'pay:' .. payment_id
  local record = table.concat({kind, viewer_id, creator_id, ref, amount, fee}, ' ')
  local seen = remembered(P, field, record)
  if seen then return seen .. ' 0' end
  local A = new_amounts()
  local bal = new_amount(A, P .. 'bal:' .. viewer_id)
  local earn = new_amount(A, P .. 'earn:' .. creator_id)
  local fees = new_amount(A, P .. 'fee:platform')
  load_amounts(A)
  local hi, lo = A.hi, A.lo
  if less(hi[bal], lo[bal], ah, al) then
    redis.call('HSET', P .. 'idem', field, record .. ' ' .. INSUFFICIENT)
    return INSUFFICIENT .. ' 1'
  end
  local ch, cl = sub(ah, al, fh, fl)
  local eh, el = add(hi[earn], lo[earn], ch, cl)
  local xh, xl = add(hi[fees], lo[fees], fh, fl)
  if overflows(eh, el) or overflows(xh, xl) then error('earnings or fee would overflow') end
  hi[bal], lo[bal] = sub(hi[bal], lo[bal], ah, al)
  hi[earn], lo[earn], hi[fees], lo[fees] = eh, el, xh, xl
  A.dirty[bal], A.dirty[earn], A.dirty[fees] = true, true, true
  redis.call('XADD', P .. 'ledger', '*', 'kind', kind, 'payment_id', payment_id,
    'viewer_id', viewer_id, 'creator_id', creator_id, 'ref', ref,
    'amount', amount, 'creator_amount', text(ch, cl), 'fee', fee)
  local totals = load_totals(P)
  bump_total(totals, 'debits', ah, al)
  bump_total(totals, 'credits', ch, cl)
  bump_total(totals, 'fees', fh, fl)
  store_totals(P, totals)
  store_amounts(A)
  redis.call('HSET', P .. 'idem', field, record .. ' ' .. CHARGED)
  return CHARGED .. ' 1'
end

-- The states of some views, for reading: "last_second ticks" each ("-1 0" when unknown).
local function view_states(P, ttl, ids)
  local V, out = new_views(), {}
  for i, id in ipairs(ids) do out[i] = V.index[id] or new_view(V, id) end
  load_views(P, ttl, V)
  for i, k in ipairs(out) do out[i] = string.format('%d %d', V.last[k], V.ticks[k]) end
  return out
end

local op, P = ARGV[1], ARGV[2]
if op == 'charge' then return charge(P, tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]) end
if op == 'views' then return view_states(P, tonumber(ARGV[3]), {unpack(ARGV, 4)}) end
if op == 'credit' or op == 'withdraw' then
  return balance_move(P, op, ARGV[3], ARGV[4], ARGV[5])
end
if op == 'pay' then return pay(P, unpack(ARGV, 3, 9)) end
error('unknown meter operation ' .. tostring(op))
