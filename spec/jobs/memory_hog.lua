-- Job file for spec/memory_spec.lua: each job tries, in its own way, to
-- make the process allocate more than the state's memory cap.
local cjson = require "cjson"

local hogs = {}
function hogs.cjson()
  local s, t = string.rep("x", 4e6), {}
  for i = 1, 100 do t[i] = s end
  return cjson.encode(t)
end
function hogs.queue()
  local s, t = string.rep("x", 4e6), {}
  for i = 1, 100 do t[i] = s end
  return hworker.queue("memory-hog-sink", t)
end
-- cjson writes null for every hole of an array it does not find too
-- sparse; ratio 0 lets any array through.
function hogs.sparse()
  cjson.encode_sparse_array(true, 0)
  local a = {}
  a[2e7] = 1
  return cjson.encode(a)
end
-- cjson frees its scratch buffer on a parse error, not when a Lua
-- allocation fails under it: many such jobs would pile up leaked buffers.
function hogs.decode_oom()
  local s = '["' .. ("a"):rep(1500000) .. '",' .. ("[],"):rep(400000) .. "[]]"
  return cjson.decode(s)
end
function hogs.decode()
  return cjson.decode("[" .. string.rep("[1,2,3,4,5,6,7,8],", 5e5) .. "0]")
end
function hogs.rep() return string.rep("x", 1e9) end
function hogs.table()
  local t = {}
  for i = 1, 1e9 do t[i] = { i } end
end
function hogs.gsub() return (string.rep("ab", 2e6):gsub(".", "xyz")) end
function hogs.concat()
  local t = {}
  for i = 1, 1e6 do t[i] = string.rep("y", 64) .. i end
  return table.concat(t)
end
function hogs.load() return load("return " .. string.rep("1+", 4e6) .. "1") end
function hogs.format()
  return string.format("%s%s%s%s", string.rep("z", 3e6), string.rep("z", 3e6), string.rep("z", 3e6),
    string.rep("z", 3e6))
end

function job(state, t)
  return hogs[t.hog]()
end
