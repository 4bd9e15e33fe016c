-- A host process that keeps SIGPIPE's default action (the process ends),
-- as a host that never thought of it does: it queues a job, has Redis close
-- its connection, then queues a job of several megabytes, whose write meets
-- the closed socket part-way. Prints the second call's outcome and "alive";
-- a SIGPIPE the library let through ends it first (exit status 141).
-- usage: luajit closed_mid_write.lua BUILD_DIR REDIS_URL QUEUE_NAME
local build, url, name = arg[1], arg[2], arg[3]
package.cpath = build .. "/lua/?.so;" .. package.cpath
local hworker = require "hworker"
local q = hworker.open { name = name, redis = url, log_level = "silent" }
local killer = hworker.open { name = name .. "-killer", redis = url, log_level = "silent" }
q:queue { n = 1 }
-- CLIENT KILL skips the connection that sends it: q's is closed.
killer:command("CLIENT", "KILL", "TYPE", "normal")
local ok, err = pcall(q.queue, q, { blob = string.rep("x", 8 * 1024 * 1024) })
io.stdout:write(ok and "queued\n" or ("refused: " .. tostring(err) .. "\n"))
io.stdout:write("alive\n")
