--[[
signer_lease.lua: the lease that makes one process the only signer of an escrow account.
  KEYS[1] the lease key, ARGV[1] "renew" or "release", ARGV[2] the owner token,
  ARGV[3] (renew) the lease time in ms.
Returns 1 when the caller held the lease (renewed or released), 0 when someone else holds it or
it expired: a holder that sees 0 has lost it and must stop signing.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
if ARGV[1] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
