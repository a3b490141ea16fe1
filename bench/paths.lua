-- wrk script for the benches that spread requests over a file of paths: RFC 8058
-- one-click unsubscribe POSTs (bench/unsubscribe.py, oneclick_under_load.py) or GETs
-- (bench/preferences.py).
--
-- Arguments after `--`: a file of paths (one a line), wrk's thread count and the
-- request: "one-click" (a POST of `List-Unsubscribe=One-Click`) or "get". Thread k of n
-- sends lines k+1, k+1+n, k+1+2n, ... so that no two threads post the same token and
-- each POST churns a subscriber still active. A thread that runs out of its share
-- starts it again: repeat POSTs are idempotent 200s.
-- done() prints "paths sent: S, distinct: D" after wrk's report for the bench to read.

local threads = {}
local next_id = 0

function setup(thread)
  -- Runs in the main Lua state before the thread's init(), so `id` is there in time.
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  local thread_count = assert(tonumber(args[2]), "second argument: the thread count")
  if args[3] == "one-click" then
    wrk.method = "POST"
    wrk.body = "List-Unsubscribe=One-Click"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  else
    assert(args[3] == "get", "third argument: one-click or get")
  end
  paths = {}
  local index = 0
  for line in file:lines() do
    if index % thread_count == id then
      paths[#paths + 1] = line
    end
    index = index + 1
  end
  file:close()
  share = #paths
  assert(share > 0, "fewer paths than threads")
  sent = 0
end

function request()
  local path = paths[sent % share + 1]
  sent = sent + 1
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local total, distinct = 0, 0
  for _, thread in ipairs(threads) do
    local thread_sent = thread:get("sent")
    total = total + thread_sent
    distinct = distinct + math.min(thread_sent, thread:get("share"))
  end
  io.write(string.format("paths sent: %d, distinct: %d\n", total, distinct))
end
