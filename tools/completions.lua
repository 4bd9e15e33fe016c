-- Writes the bash and zsh completions of hworker-lua from the binary's own
-- --help texts (the table that drives --help), so they offer exactly the
-- subcommands and flags the program takes.
-- usage: luajit tools/completions.lua BIN BASH_OUT ZSH_OUT
local bin, bash_out, zsh_out = arg[1], arg[2], arg[3]
local function help(cmd)
  local p = assert(io.popen(("%s %s--help"):format(bin, cmd and cmd .. " " or "")))
  local text = p:read("*a")
  p:close()
  return text
end

-- The subcommands, in --help's order, with their one-line summaries.
local commands = {}
for line in help(nil):match("commands:\n(.-)\n\n"):gmatch("[^\n]+") do
  local name, rest = line:match("^  ([%w-]+)(.*)$")
  commands[#commands + 1] = { name = name, summary = rest:match("%s%s+(%S.*)$") or "" }
end
-- Each subcommand's flags, and its first words where it takes an action.
local actions = { cron = { "add", "ls", "rm", "next" }, limit = { "ls" } }
for _, c in ipairs(commands) do
  local seen, flags = {}, {}
  for flag in help(c.name):gmatch("\n%s+(%-%-[%w-]+)") do
    if not seen[flag] then
      seen[flag] = true
      flags[#flags + 1] = flag
    end
  end
  flags[#flags + 1] = "--help"
  c.flags = flags
end

local names = {}
for _, c in ipairs(commands) do names[#names + 1] = c.name end

local b = {}
local function w(s) b[#b + 1] = s end
w("# bash completion for hworker-lua: written by tools/completions.lua from its --help texts.\n")
w("_hworker_lua() {\n")
w("  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} words\n")
w("  if ((COMP_CWORD == 1)); then\n")
w(("    mapfile -t COMPREPLY < <(compgen -W '%s help --help --version -V' -- \"$cur\")\n"):format(
  table.concat(names, " ")))
w("    return\n  fi\n")
w("  case $cmd in\n")
w(("    help) words='%s' ;;\n"):format(table.concat(names, " ")))
for _, c in ipairs(commands) do
  local first = actions[c.name]
  if first then
    w(("    %s) if ((COMP_CWORD == 2)); then words='%s'; else words='%s'; fi ;;\n"):format(c.name,
      table.concat(first, " "), table.concat(c.flags, " ")))
  else
    w(("    %s) words='%s' ;;\n"):format(c.name, table.concat(c.flags, " ")))
  end
end
w("    *) return ;;\n  esac\n")
w("  if [[ $cur == -* || $cmd == help || ($cmd == cron || $cmd == limit) && COMP_CWORD -eq 2 ]]; then\n")
w("    mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n")
w("  fi\n")
w("}\n")
w("complete -o default -F _hworker_lua hworker-lua\n")
local f = assert(io.open(bash_out, "w"))
f:write(table.concat(b))
f:close()

b = {}
w("#compdef hworker-lua\n")
w("# zsh completion for hworker-lua: written by tools/completions.lua from its --help texts.\n")
w("_hworker_lua() {\n")
w("  local -a commands flags\n")
w("  commands=(\n")
for _, c in ipairs(commands) do
  w(("    '%s:%s'\n"):format(c.name, c.summary:gsub("'", "'\\''"):gsub(":", "\\:")))
end
w("  )\n")
w("  if (( CURRENT == 2 )); then\n    _describe 'command' commands\n    return\n  fi\n")
w("  case $words[2] in\n")
w("    help) _describe 'command' commands; return ;;\n")
for _, c in ipairs(commands) do
  local first = actions[c.name]
  if first then
    w(("    %s) if (( CURRENT == 3 )); then compadd -- %s; return; fi; flags=(%s) ;;\n"):format(c.name,
      table.concat(first, " "), table.concat(c.flags, " ")))
  else
    w(("    %s) flags=(%s) ;;\n"):format(c.name, table.concat(c.flags, " ")))
  end
end
w("  esac\n")
w("  if [[ $PREFIX == -* ]]; then compadd -- $flags; else _files; fi\n")
w("}\n")
w("_hworker_lua \"$@\"\n")
f = assert(io.open(zsh_out, "w"))
f:write(table.concat(b))
f:close()
