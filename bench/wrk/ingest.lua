-- Carrier assignment ingest, 1000 items a request, for staff of the key's carrier
-- (staff k belongs to carrier k % 20; the key is carrier 0's).
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local CARRIER_KEY = os.getenv("BENCH_CARRIER_KEY")
local bodies = {}
local n = 0

function init_case(args)
  local staff = math.floor(SCALE_PHONES / 20)
  for b = 1, 16 do
    local items = {}
    for j = 1, 1000 do
      items[j] = string.format(
        '{"tracking_code": "IN%d-%d-%d", "employee_code": "E%d", "recipient_phone": "09%08d", ' ..
        '"status": "out_for_delivery"}',
        thread_id, b, j, 20 * math.random(0, staff - 1), math.random(0, 99999999))
    end
    bodies[b] = '{"assignments": [' .. table.concat(items, ",") .. ']}'
  end
end

request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/carrier/assignments/",
                    {["Authorization"] = "Api-Key " .. CARRIER_KEY,
                     ["Content-Type"] = "application/json"}, bodies[n % #bodies + 1])
end
