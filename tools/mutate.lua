-- The mutation check (run it as `tools/dev mutate`): applies, one at a
-- time, each deliberate breakage listed in tools/mutants.lua to a scratch
-- copy of the tree, rebuilds it, and runs the specs mapped to that mutant.
-- A mutant is killed when those specs fail (or time out); one that passes
-- them survived, which means a promise is not really tested.
--
-- usage: luajit tools/mutate.lua ROOT [--only TEXT] [--skip TEXT] [--list] [--fast] [--no-baseline] [--record]
--   --only TEXT     just the mutants whose name or spec contains TEXT
--   --skip TEXT     leave out the mutants whose name or spec contains TEXT
--   --list          print the mutants and exit
--   --fast          leave out the mutants marked slow (as CI does)
--   --no-baseline   do not first run the specs unmutated: for a tree whose
--                   specs just passed (tools/dev test runs it after the
--                   plain pass); a mutant whose specs run no test is still
--                   caught, as stale
--   --record        also write the result to docs/results/mutate/ (through
--                   tools/result-header; $HWORKER_RESULTS_DIR overrides)
-- Prints one line per mutant and `mutants: killed=K survived=S total=N`;
-- exits 1 if any survived, if the unmutated specs fail, or if a mutant no
-- longer applies (its text is not found exactly once, or it does not
-- compile): the list must follow the code.
local root = assert(arg[1],
  "usage: luajit tools/mutate.lua ROOT [--only TEXT] [--skip TEXT] [--list] [--fast] [--no-baseline] [--record]")
local only, skip, list_only, record, no_baseline, fast
do
  local i = 2
  while i <= #arg do
    if arg[i] == "--only" then only = arg[i + 1]; i = i + 1
    elseif arg[i] == "--skip" then skip = arg[i + 1]; i = i + 1
    elseif arg[i] == "--list" then list_only = true
    elseif arg[i] == "--no-baseline" then no_baseline = true
    elseif arg[i] == "--fast" then fast = true
    elseif arg[i] == "--record" then record = true
    else io.stderr:write("mutate: unknown argument '" .. arg[i] .. "'\n"); os.exit(2) end
    i = i + 1
  end
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
-- Runs cmd under sh; returns its output (stderr too) and exit status
-- (LuaJIT's popen does not give the status, so the shell prints it).
local function sh(cmd)
  local p = assert(io.popen("( " .. cmd .. "\n) 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return out:gsub("exit=%d+%s*$", ""), code or 1
end
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
local function count(hay, needle)
  local n, at = 0, 1
  while true do
    local s, e = hay:find(needle, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

local mutants = dofile(root .. "/tools/mutants.lua")
local chosen = {}
for _, m in ipairs(mutants) do
  local text = m.name .. " " .. m.spec
  if (not only or text:find(only, 1, true)) and not (skip and text:find(skip, 1, true)) and not (fast and m.slow) then
    chosen[#chosen + 1] = m
  end
end
if list_only then
  for i, m in ipairs(chosen) do
    print(("%2d  %-45s %s  [%s]%s"):format(i, m.name, m.file, m.spec, m.slow and "  slow" or ""))
  end
  os.exit(0)
end
if #chosen == 0 then io.stderr:write("mutate: no mutant matches '" .. tostring(only) .. "'\n"); os.exit(2) end

-- The scratch tree: tracked and new files. Only files whose contents
-- differ are copied (with a new mtime), so its build stays incremental from
-- one run to the next, and a file an interrupted run left mutated is
-- restored and rebuilt.
local scratch = root .. "/build-mutate"
local src, build = scratch .. "/src", scratch .. "/build"
local out, rc = sh(("mkdir -p %s && cd %s && git ls-files -co --exclude-standard | "
  .. "while IFS= read -r f; do cmp -s \"$f\" %s/\"$f\" || cp --parents \"$f\" %s || exit 1; done")
  :format(quote(src), quote(root), quote(src), quote(src)))
assert(rc == 0, "mutate: cannot copy the tree: " .. out)
-- Files the tree no longer has (removed or renamed) leave the copy too: the
-- build globs core/*.c, and a stale file would still be compiled in.
out, rc = sh(("cd %s && find . -type f | sed 's|^[.]/||' | sort > ../have && "
  .. "cd %s && git ls-files -co --exclude-standard | sort > %s/want && "
  .. "comm -23 %s/have %s/want | while IFS= read -r f; do rm -f %s/\"$f\"; done")
  :format(quote(src), quote(root), quote(scratch), quote(scratch), quote(scratch), quote(src)))
assert(rc == 0, "mutate: cannot prune the copy: " .. out)
-- The browser specs' tooling (npm's node_modules, which git ignores) is the
-- tree's own: linked, not copied.
local modules, copy_modules = root .. "/spec/browser/node_modules", src .. "/spec/browser/node_modules"
out, rc = sh(("[ -L %s ] || rm -rf %s; ln -sfn %s %s"):format(quote(copy_modules), quote(copy_modules),
  quote(modules), quote(copy_modules)))
assert(rc == 0, "mutate: cannot link the browser tooling: " .. out)
-- A run stopped while a mutant was applied leaves its file named here: the
-- copy above restored its text, and the touch makes the build follow.
local applied = scratch .. "/applied"
do
  local f = io.open(applied)
  if f then
    local path = f:read("*l")
    f:close()
    if path then sh("touch " .. quote(src .. "/" .. path)) end
    os.remove(applied)
  end
end
-- The first build configures and builds everything; a mutant's build then
-- makes only what the specs run (the library, the Lua module, the CLI, its
-- shell completions and the host example), not the unit tests and the man
-- page that link the library again: that halves the time each mutant
-- spends building.
local configured = false
local function make()
  if not configured then
    configured = true
    return sh(("cmake -S %s -B %s -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null "
      .. "&& cmake --build %s -j2 -- --no-print-directory"):format(quote(src), quote(build), quote(build)))
  end
  return sh(("cmake --build %s -j2 --target hworker hworker_lua hworker-lua completions host_example "
    .. "-- --no-print-directory"):format(quote(build)))
end

-- Runs a mutant's specs against the scratch build; returns whether they
-- passed and the tail of their output. A run past `limit` seconds counts
-- as failed (a mutant that hangs a spec is killed); redis-servers the
-- specs had started are stopped then, as the specs could not.
local function run_specs(m, limit)
  local marker = scratch .. "/started"
  write(marker, "")
  local filter = m.filter and (" " .. quote("--filter=" .. m.filter)) or ""
  local cmd = ("cd %s && HWORKER_ROOT=%s HWORKER_BUILD=%s timeout -k 10 %d busted --lua=luajit -o TAP%s %s")
    :format(quote(src), quote(src), quote(build), limit, filter, m.spec)
  local output, code = sh(cmd)
  if code == 124 or code == 137 then
    sh("for p in $(find /tmp -maxdepth 2 -path '/tmp/hworker-spec.*/redis.pid' -newer " .. quote(marker)
      .. "); do kill $(cat $p) 2>/dev/null; done")
  end
  local ok_lines, not_ok = 0, 0
  for line in output:gmatch("[^\n]+") do
    if line:match("^ok ") then ok_lines = ok_lines + 1 elseif line:match("^not ok ") then not_ok = not_ok + 1 end
  end
  return code == 0, output, ok_lines, not_ok, code
end

local _, brc = make()
if brc ~= 0 then io.stderr:write("mutate: the unmutated tree does not build\n"); os.exit(1) end

-- The specs must pass unmutated: otherwise every mutant looks killed.
local specs_seen, baseline_bad = {}, {}
for _, m in ipairs(no_baseline and {} or chosen) do
  local key = m.spec .. "\0" .. (m.filter or "")
  if not specs_seen[key] then
    specs_seen[key] = true
    local ok, output, n = run_specs(m, 600)
    if not ok or n == 0 then
      baseline_bad[#baseline_bad + 1] = m.spec .. (m.filter and (" --filter=" .. m.filter) or "")
      io.stderr:write(output:sub(-3000) .. "\n")
    end
  end
end
if #baseline_bad > 0 then
  print("mutate: the unmutated specs fail or select no test, so no mutant can be judged:")
  for _, b in ipairs(baseline_bad) do print("  " .. b) end
  os.exit(1)
end

local killed, survivors, stale, lines = 0, {}, {}, {}
local function say(s) print(s); io.stdout:flush(); lines[#lines + 1] = s end
for i, m in ipairs(chosen) do
  local path = src .. "/" .. m.file
  local original = read(path)
  local n = count(original, m.from)
  if (m.filter or ""):find("['\"]") then
    -- busted runs itself again through a shell that does not quote them.
    stale[#stale + 1] = m.name
    say(("%2d STALE    %s: a filter may not hold quotes (a dot matches any character)"):format(i, m.name))
  elseif n ~= 1 then
    stale[#stale + 1] = m.name
    say(("%2d STALE    %s: its text occurs %d times in %s"):format(i, m.name, n, m.file))
  else
    local s = original:find(m.from, 1, true)
    write(applied, m.file .. "\n")
    write(path, original:sub(1, s - 1) .. m.to .. original:sub(s + #m.from))
    local bout, code = make()
    if code ~= 0 then
      stale[#stale + 1] = m.name
      say(("%2d STALE    %s: does not compile\n%s"):format(i, m.name, bout:sub(-1500)))
    else
      local t0 = os.time()
      local ok, _, passed, failed, status = run_specs(m, m.limit or 300)
      local how = status == 124 and "timed out" or ("%d of %d tests failed"):format(failed, passed + failed)
      if ok and passed + failed == 0 then
        stale[#stale + 1] = m.name
        say(("%2d STALE    %s: %s %s runs no test"):format(i, m.name, m.spec, m.filter or ""))
      elseif ok then
        survivors[#survivors + 1] = m.name
        say(("%2d SURVIVED %s (%s: all %d passed)"):format(i, m.name, m.spec, passed))
      else
        killed = killed + 1
        say(("%2d killed   %s (%s, %d s)"):format(i, m.name, how, os.time() - t0))
      end
    end
    write(path, original)
    os.remove(applied)
  end
end
make()

local summary = ("mutants: killed=%d survived=%d total=%d"):format(killed, #survivors, #chosen)
say(summary)
if #survivors > 0 then say("survivors: " .. table.concat(survivors, "; ")) end
if #stale > 0 then say("stale (fix tools/mutants.lua): " .. table.concat(stale, "; ")) end

if record then
  local file = sh("cd " .. quote(root) .. " && tools/result-header --path mutate"):gsub("%s+$", "")
  local header = sh(("cd %s && tools/result-header mutate %s"):format(quote(root),
    quote("tools/dev mutate" .. (only and (" --only " .. only) or "") .. (skip and (" --skip " .. skip) or "")
      .. (fast and " --fast" or ""))))
  local body = { header, "```", table.concat(lines, "\n"), "```", "" }
  write(file:sub(1, 1) == "/" and file or root .. "/" .. file, table.concat(body, "\n"))
  print("mutate: wrote " .. file)
end
os.exit((#survivors == 0 and #stale == 0) and 0 or 1)
