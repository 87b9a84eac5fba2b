-- Numbers drawn at random from the whole registry, half registered and half not.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
request = function()
  local k = math.random(0, SCALE_PHONES - 1)
  local number = (math.random(2) == 1) and registered_number(k) or unregistered_number(k)
  return wrk.format("GET", "/api/v1/numbers/" .. number .. "/",
                    {["Authorization"] = "Api-Key " .. API_KEY})
end
