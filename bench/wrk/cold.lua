-- Numbers drawn at random from the whole registry, half registered and half not, none asked
-- twice in a run: a number asked again is answered from the verdict cache, and at a small
-- seed (20,000 numbers at 1%) that would happen often enough to flatter it. Each thread asks
-- its own share of the staff numbers k (k % threads); run.py empties the cache before each
-- cold run.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local THREADS = tonumber(os.getenv("BENCH_THREADS"))
local share = math.floor(SCALE_PHONES / THREADS)
local asked, count = {}, 0

request = function()
  if count >= share then asked, count = {}, 0 end  -- a long run at a tiny seed: start over
  local number
  repeat
    local k = math.random(0, share - 1) * THREADS + thread_id - 1
    number = (math.random(2) == 1) and registered_number(k) or unregistered_number(k)
  until not asked[number]
  asked[number], count = true, count + 1
  return wrk.format("GET", "/api/v1/numbers/" .. number .. "/",
                    {["Authorization"] = "Api-Key " .. API_KEY})
end
