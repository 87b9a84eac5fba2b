-- The public result page: the lookup form posted with a CSRF token fetched once.
dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local COOKIE = os.getenv("BENCH_CSRF_COOKIE")
local TOKEN = os.getenv("BENCH_CSRF_TOKEN")
request = function()
  local body = "csrfmiddlewaretoken=" .. TOKEN .. "&number=" .. random_staff_number():gsub("%+", "%%2B")
  return wrk.format("POST", "/", {["Cookie"] = "csrftoken=" .. COOKIE,
                                  ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
