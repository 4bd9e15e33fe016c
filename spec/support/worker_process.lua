-- A worker process for specs that need one they can kill: runs workers and
-- monitors from the options given as JSON, until it is killed.
-- usage: luajit worker_process.lua BUILD_DIR OPTIONS_JSON
local build, json = arg[1], arg[2]
package.cpath = build .. "/lua/?.so;" .. package.cpath
local ffi = require "ffi"
ffi.cdef "int usleep(unsigned int usec);"
local cjson = require "cjson"
local hworker = require "hworker"
local opts = cjson.decode(json)
local workers, monitors = opts.workers or 1, opts.monitors or 0
opts.workers, opts.monitors, opts.env = nil, nil, nil
local q = hworker.open(opts)
q:start { workers = workers, monitors = monitors }
io.stdout:write("started\n")
io.stdout:flush()
while true do ffi.C.usleep(100000) end
