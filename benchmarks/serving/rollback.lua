-- wrk script for the rollback-under-load run: POST $BODY_FILE, and for every response write
-- one line "<CLOCK_MONOTONIC µs> <HTTP status> <model_version or ->" to $RECORD_FILE
-- (one file per wrk thread: $RECORD_FILE.<n>). CLOCK_MONOTONIC is the clock Python's
-- time.monotonic() reads, so the driver can line responses up with the CLI commands it runs.
-- Socket errors (connect/read/write/timeout) have no response; done() prints their counts in
-- the RESULT line.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } steady_ts_t;
  int clock_gettime(int clk_id, steady_ts_t *tp);
]]
local ts = ffi.new("steady_ts_t")
local CLOCK_MONOTONIC = 1

local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local out
function init(args)
  out = assert(io.open(os.getenv("RECORD_FILE") .. "." .. tostring(id), "w"))
  out:setvbuf("full", 1048576)
end

function response(status, headers, body)
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  local version = body and body:match('"model_version":"([^"]*)"') or "-"
  out:write(string.format("%d %d %s\n",
    tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000), status, version))
  -- flush now and then so the file is complete even though wrk never calls a per-thread "done"
  if math.random() < 0.001 then out:flush() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p75_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(75) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
