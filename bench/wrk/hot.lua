-- Numbers looked up just before (bench/run.py warms them): the verdict comes from the cache.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/numbers/" .. registered_number(i % 64) .. "/",
                    {["Authorization"] = "Api-Key " .. API_KEY})
end
