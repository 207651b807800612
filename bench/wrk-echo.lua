-- wrk script for the echo workload: every request is a POST of a 1 MiB body (WRK_POST_BYTES
-- overrides the size), which bench/apps/echo.py sends back. The report line comes from
-- wrk-report.lua, loaded from this script's directory.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "wrk-report.lua")

local size = tonumber(os.getenv("WRK_POST_BYTES") or "") or 1048576
wrk.method = "POST"
wrk.body = string.rep("0123456789abcdef", math.ceil(size / 16)):sub(1, size)
wrk.headers["Content-Type"] = "application/octet-stream"
