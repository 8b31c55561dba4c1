-- wrk -s bench/lib/paced_paths.lua URL   with env LIST=path/to/list.txt PACE_MS=2 RIG_LUA=rig/lua
-- As the rig's random_paths.lua (a uniformly random path of LIST per request, fixed per-thread
-- seeds), but every connection waits PACE_MS after each answer before it sends the next request.
-- The hit load is then about connections / (PACE_MS + latency) per second, whichever server
-- answers: a faster server does not draw more hits, and so no CPU from the misses beside them.
-- wrk measures latency from the request's send, so the pause is not in the figures.
package.path = (os.getenv("RIG_LUA") or "lua") .. "/?.lua;" .. package.path
local common = require("common")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  paths = common.load_list(os.getenv("LIST"))
  pace = tonumber(os.getenv("PACE_MS") or "2")
  math.randomseed(1000 + (tid or 1))
end

function delay()
  return pace
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  common.result(summary, latency, string.format(" list=%s pace_ms=%s", os.getenv("LIST"), os.getenv("PACE_MS") or "2"))
end
