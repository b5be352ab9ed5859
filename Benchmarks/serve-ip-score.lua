-- wrk script for Benchmarks/run-serve-load.sh: POST /v1/ip/score with one address a request,
-- cycling through 1,024 public IPv4 addresses spread over the address space (fixed, so that every
-- run asks the same; after the first pass the scorers answer from their caches).
local addresses = {}
local x = 12345
for i = 1, 1024 do
  x = (x * 1103515245 + 12345) % 2147483648
  local a = 1 + (x % 223)
  if a == 10 or a == 127 or a == 100 or a == 172 or a == 192 or a == 169 then a = a + 1 end
  addresses[i] = string.format("%d.%d.%d.%d", a, math.floor(x / 256) % 256, math.floor(x / 65536) % 256, 1 + math.floor(x / 7) % 254)
end

local bodies = {}
for i, address in ipairs(addresses) do
  bodies[i] = '{"addresses": ["' .. address .. '"]}'
end

local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local token = os.getenv("FLOWHOUND_TOKEN")
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end

request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/ip/score", headers, bodies[(counter % #bodies) + 1])
end

