-- wrk script for bench/preferences.py: GETs spread over a file of paths.
--
-- Arguments after `--`: a file of paths (one a line) and wrk's thread count. Thread k
-- of n requests lines k+1, k+1+n, ... in turn and starts its share again at the end.

local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  local thread_count = assert(tonumber(args[2]), "second argument: the thread count")
  paths = {}
  local index = 0
  for line in file:lines() do
    if index % thread_count == id then
      paths[#paths + 1] = line
    end
    index = index + 1
  end
  file:close()
  assert(#paths > 0, "fewer paths than threads")
  sent = 0
end

function request()
  local path = paths[sent % #paths + 1]
  sent = sent + 1
  return wrk.format("GET", path)
end
