-- A verification with a tracking code and the recipient's number, for a random parcel.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
request = function()
  local body = string.format(
    '{"number": "%s", "tracking_code": "BN%010d", "recipient_phone": "0901 234 567"}',
    random_staff_number(), math.random(0, SCALE_ASSIGNMENTS - 1))
  return wrk.format("POST", "/api/v1/verifications/",
                    {["Authorization"] = "Api-Key " .. API_KEY,
                     ["Content-Type"] = "application/json"}, body)
end
