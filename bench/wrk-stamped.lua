-- wrk script for bench/overload.sh: each request carries its send time (`/?t=<unix µs>`,
-- from clock_gettime through LuaJIT's FFI), so the server's JSON access log, whose `time`
-- is when the response was complete, gives every request's latency with its status: wrk's
-- own summary mixes the fast 503s of shed requests with the 200s. `-- THINK_MS` waits that
-- long after each response before the next request on the connection, which caps what the
-- connections offer (64 connections x 1000/80 ms = 800 requests/s at most).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } rsgi_timespec;
int clock_gettime(int clock, rsgi_timespec *tp);
]]
local now = ffi.new("rsgi_timespec")
local think = 0

function init(args)
  think = tonumber(args[1] or "0")
end

function request()
  ffi.C.clock_gettime(0, now)
  local us = tonumber(now.tv_sec) * 1000000 + math.floor(tonumber(now.tv_nsec) / 1000)
  return wrk.format("GET", string.format("/?t=%d", us))
end

function delay()
  return think
end
