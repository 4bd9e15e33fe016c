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
local main = help(nil)
-- The top-level help: a summary line, the command list, then the notes
-- every command shares (the Redis flags and the exit codes).
local summary = assert(main:match("\n\n([^\n]+)\n\ncommands:"))
local notes = assert(main:match("\n\n(Every command takes.-)\nExit codes:"))
local commands = {}
for line in main:match("commands:\n(.-)\n\n"):gmatch("[^\n]+") do
  commands[#commands + 1] = line:match("^  ([%w-]+)")
end
local listings = { inflight = true, scheduled = true, failed = true, broken = true }

local version = io.popen(bin .. " --version"):read("*l"):match("(%S+)$")
local f = assert(io.open(out, "w"))
f:write((".TH HWORKER-LUA 1 \"\" \"hworker %s\" \"User Commands\"\n"):format(version))
f:write(".SH NAME\nhworker-lua \\- " .. roff(summary:gsub("^%u", string.lower):gsub("%.$", "")) .. "\n")
f:write(".SH SYNOPSIS\n.B hworker-lua\n.I COMMAND\n[\\fIARGS\\fR] [\\fB\\-\\-help\\fR]\n.br\n"
  .. ".B hworker-lua help\n.I COMMAND\n.br\n.B hworker-lua \\-\\-version\n")
f:write(".SH DESCRIPTION\n" .. roff(summary) .. " The runner, \\fBrun\\fR, works a queue with job handlers "
  .. "written in Lua, each run in a sandbox with limits on its time and memory; the other commands enqueue, "
  .. "inspect and steer queues, and serve their metrics and a web dashboard. Each command's flags follow "
  .. "its description below; \\fBhworker-lua help\\fR \\fICOMMAND\\fR prints the same.\n")
f:write(".SH COMMANDS\n")
for _, cmd in ipairs(commands) do
  if not listings[cmd] then
    local also = cmd == "jobs" and ", inflight, scheduled, failed, broken" or ""
    f:write(".SS " .. cmd .. also .. "\n.nf\n" .. roff(help(cmd)) .. ".fi\n")
  end
end
f:write(".SH OPTIONS\nEvery command that talks to Redis takes these.\n"
  .. ".TP\n.BI \\-\\-redis \" URL\"\nWhere Redis is.\n"
  .. ".TP\n.BI \\-\\-redis\\-password\\-file \" FILE\"\nThe password: the file's first line.\n"
  .. ".TP\n.BR \\-\\-help \", \" \\-h\nThe command's usage and flags.\n"
  .. ".PP\n" .. roff(notes:gsub("\n", " ")) .. "\n")
f:write(".SH ENVIRONMENT\n"
  .. ".TP\n.B HWORKER_REDIS\nThe Redis URL when \\fB\\-\\-redis\\fR is not given.\n"
  .. ".TP\n.B REDIS_URL\nThe Redis URL when neither \\fB\\-\\-redis\\fR nor \\fBHWORKER_REDIS\\fR is given.\n"
  .. ".TP\n.B HWORKER_REDIS_PASSWORD\nThe Redis password when \\fB\\-\\-redis\\-password\\-file\\fR is not given; "
  .. "it wins over a password in the URL.\n"
  .. ".TP\n.B HWORKER_DASHBOARD_TOKEN\nThe token \\fBserve\\fR's dashboard asks for its actions (or "
  .. "\\fB\\-\\-token\\-file\\fR); without one, the dashboard is read-only.\n"
  .. ".TP\n.BI HWORKER_ NAME\nA flag of \\fBrun\\fR by its name in capitals with _ for \\-, e.g. "
  .. "\\fBHWORKER_THREADS=4\\fR; the command line wins over it, and it over \\fB\\-\\-config\\-file\\fR.\n"
  .. ".TP\n.B TZDIR\nWhere the time zone files are, for cron schedules with a time zone.\n")
f:write(".SH EXIT STATUS\n.TP\n.B 0\nSuccess.\n.TP\n.B 1\nA runtime failure: Redis unreachable or refusing, "
  .. "a job or queue that does not exist, a risky Redis setting found by \\fBcheck\\fR.\n"
  .. ".TP\n.B 2\nA usage error: a bad flag, argument or setting; the message names what to fix.\n")
f:write(".SH EXAMPLES\n.nf\n"
  .. "hworker-lua run mail.lua \\-\\-name mail \\-\\-threads 4\n"
  .. "hworker-lua queue mail '{\"to\":\"ada@example.org\"}'\n"
  .. "hworker-lua stats mail \\-\\-json\n"
  .. "hworker-lua failed mail \\-\\-limit 10\n"
  .. "hworker-lua requeue mail \\-\\-failed \\-\\-all\n"
  .. "HWORKER_DASHBOARD_TOKEN=$(cat token) hworker-lua serve\n"
  .. "systemctl enable \\-\\-now hworker@mail\n.fi\n")
f:write(".SH SEE ALSO\nThe hworker documentation in /usr/share/doc/hworker, and docs/ in its sources.\n")
f:close()
