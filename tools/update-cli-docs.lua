-- Rewrites the help blocks of docs/cli.md from `hworker-lua ... --help`, so
-- the page and the binary say the same (spec/cli_spec.lua checks it).
-- usage: luajit tools/update-cli-docs.lua [build/hworker-lua]
local bin = arg[1] or "build/hworker-lua"
local path = "docs/cli.md"
local f = assert(io.open(path))
local doc = f:read("*a")
f:close()

local function help(cmd)
  local p = assert(io.popen(("%s %s--help"):format(bin, cmd ~= "" and cmd .. " " or "")))
  local text = p:read("*a")
  p:close()
  return text
end

local count = 0
doc = doc:gsub("(\n## hworker%-lua([^\n]*)\n\n```\n)(.-)(```)", function(head, heading, _, tail)
  local cmd = heading:match("[%a][%a-]*") or ""
  count = count + 1
  return head .. help(cmd) .. tail
end)
f = assert(io.open(path, "w"))
f:write(doc)
f:close()
print(("updated %d help blocks in %s"):format(count, path))
