-- Writes the hworker-lua(1) man page from the binary's --help texts, so the
-- page and the program cannot disagree. usage: luajit tools/man.lua BIN OUT
local bin, out = arg[1], arg[2]
local function help(cmd)
  local p = assert(io.popen(("%s %s--help"):format(bin, cmd and cmd .. " " or "")))
  local text = p:read("*a")
  p:close()
  return text
end
local function roff(text)
  return (text:gsub("\\", "\\e"):gsub("\n%.", "\n\\&."):gsub("^%.", "\\&.")):gsub("\n'", "\n\\&'")
end
local version = io.popen(bin .. " --version"):read("*l"):match("(%S+)$")
local f = assert(io.open(out, "w"))
f:write((".TH HWORKER-LUA 1 \"\" \"hworker %s\" \"User Commands\"\n"):format(version))
f:write(".SH NAME\nhworker-lua \\- run Lua job handlers on an at-least-once Redis queue, and operate it\n")
f:write(".SH SYNOPSIS\n.B hworker-lua\n.I COMMAND\n[\\fIARGS\\fR] [\\fB\\-\\-help\\fR]\n")
f:write(".SH DESCRIPTION\n.nf\n" .. roff(help(nil)) .. ".fi\n")
f:write(".SH COMMANDS\n")
for _, cmd in ipairs { "run", "queue", "jobs", "stats", "requeue", "delete", "destroy", "debug", "check", "options" } do
  local also = cmd == "jobs" and ", inflight, scheduled, failed, broken" or ""
  f:write(".SS " .. cmd .. also .. "\n.nf\n" .. roff(help(cmd)) .. ".fi\n")
end
f:write(".SH SEE ALSO\nThe hworker documentation in /usr/share/doc/hworker, and docs/ in its sources.\n")
f:close()
