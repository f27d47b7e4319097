-- wrk script for bench/ingest.py: one connection per thread, a fixed number of requests each.
-- wrk itself always runs for its -d duration, so each thread prints THREAD-DONE when its
-- quota is answered (bench/ingest.py interrupts wrk once all have) and the run's duration is
-- measured here, from the first request built to the last answer received.
-- Answers are counted, not requests: wrk builds one request on thread 1 only to check the
-- script, never sending it, so the database is checked against the answers.
-- Arguments (after --): mode key tag quota repeat_every [services]
--   mode: healthz | webhook | raw | orm   (raw and orm are the bench-only baseline views)
--   quota: requests per thread; the thread stops once that many answers arrived
--   repeat_every: every Nth webhook delivery re-sends an earlier deployment id (0 = never)
--   services: 1 sends every delivery for "Checkout"; N > 1 spreads them over "Svc0".."Svc<N-1>"

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

local paths = {
   healthz = "/healthz",
   webhook = "/api/webhooks/deployments",
   raw = "/bench/raw-upsert",
   orm = "/bench/orm-upsert",
}

function init(args)
   mode, key, tag = args[1], args[2], args[3]
   quota, repeat_every = tonumber(args[4]), tonumber(args[5])
   services = tonumber(args[6] or "1")
   sent, received, unique, repeats = 0, 0, 0, 0
   first_sent_us, last_received_us = 0, 0
   created, updated, failed = 0, 0, 0
   headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
end

local function service(seq)
   if services > 1 then
      return "Svc" .. ((tid * 7919 + seq) % services)
   end
   return "Checkout"
end

-- A number for the run's tag, so that commits differ between runs and threads: a commit
-- deployed again after others is a rollback (docs/metrics.md), whose detection is far more
-- work than a new deployment's, and when every thread numbered its commits from 1 alike,
-- most deliveries looked like one.
local function checksum(text)
   local sum = 0
   for i = 1, #text do
      sum = (sum * 31 + text:byte(i)) % 2147483647
   end
   return sum
end

local function body(seq, status, completed)
   return string.format(
      '{"deploymentId":"%s-%d-%d","commitSha":"%08x%08x%024x","environment":"prod",' ..
      '"status":"%s","startedAt":"2024-01-15T10:30:00Z","completedAt":"%s",' ..
      '"service":"%s","branch":"main","triggeredBy":"bench",' ..
      '"pipelineName":"deploy","metadata":{"run":%d}}',
      tag, tid, seq, checksum(tag), tid, seq, status, completed, service(seq), seq)
end

function request()
   if received == 0 then
      -- One connection per thread: the last request built before the first answer is the
      -- first one sent.
      first_sent_us = now_us()
   end
   sent = sent + 1
   if mode == "healthz" then
      return wrk.format("GET", paths.healthz, headers)
   end
   if repeat_every > 0 and sent % repeat_every == 0 and unique > 5 then
      -- A repeat of a delivery this connection sent (and got answered) five ids ago:
      -- odd ones are identical retries (duplicate), even ones a real change (updated).
      repeats = repeats + 1
      local status = (repeats % 2 == 0) and "rolled_back" or "success"
      return wrk.format("POST", paths[mode], headers, body(unique - 5, status, "2024-01-15T10:35:00Z"))
   end
   unique = unique + 1
   return wrk.format("POST", paths[mode], headers, body(unique, "success", "2024-01-15T10:35:00Z"))
end

function response(status, headers, body)
   if received >= quota then
      return
   end
   received = received + 1
   if status == 201 then
      created = created + 1
   elseif status == 200 then
      updated = updated + 1
   else
      failed = failed + 1
   end
   if received == quota then
      last_received_us = now_us()
      io.write("THREAD-DONE\n")
      io.stdout:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local totals = {sent = 0, received = 0, unique = 0, created = 0, updated = 0, failed = 0}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
   end
   local first, last = math.huge, 0
   for _, thread in ipairs(threads) do
      first = math.min(first, thread:get("first_sent_us"))
      last = math.max(last, thread:get("last_received_us"))
   end
   local e = summary.errors
   io.write(string.format(
      'WRK-RESULT {"duration_us":%d,"requests":%d,"sent":%d,"received":%d,"unique":%d,' ..
      '"created":%d,"updated":%d,"failed":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      last - first, summary.requests, totals.sent, totals.received, totals.unique,
      totals.created, totals.updated, totals.failed,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
