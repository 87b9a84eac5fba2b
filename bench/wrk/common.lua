-- Shared by every case: the API key, a per-thread random seed, and a JSON summary that
-- bench/run.py reads from the last line of wrk's output.
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  non_2xx = 0
  if init_case then init_case(args) end
end

function response(status, headers, body)
  if status >= 400 then non_2xx = non_2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + (thread:get("non_2xx") or 0) end
  io.write(string.format(
    '\nBENCH_JSON {"requests": %d, "duration_us": %d, "errors": %d, "http_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    bad + summary.errors.status, latency:percentile(50), latency:percentile(99)))
end

SCALE_PHONES = tonumber(os.getenv("BENCH_PHONES"))
SCALE_ASSIGNMENTS = tonumber(os.getenv("BENCH_ASSIGNMENTS"))
API_KEY = os.getenv("BENCH_KEY")

function registered_number(k) return string.format("+8491%07d", k) end
function unregistered_number(k) return string.format("+8492%07d", k) end
function random_staff_number() return registered_number(math.random(0, SCALE_PHONES - 1)) end
